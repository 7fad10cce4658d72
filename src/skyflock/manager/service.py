"""The manager facade: what the API (and through it the CLI) asks of the server.

`Manager(settings)` owns the store, the cluster backends and the `ManagerLoop`.
`start()` opens (and migrates) the store, builds the embedded `local` cluster,
loads the queue, recovers the jobs a previous server left running
(`manager.recovery`) and starts the loop's tasks; `stop()` stops them and
leaves running jobs running, to be adopted by the next start.

User actions (submit, remove, hold, release, qedit, userprio) are store
transactions made here, on the loop's thread, followed by the matching update
of the live queue; reads go to the store (queue, history, events, logs) or to
the loop's last cycle (analyze, stats). Mistakes a person must fix raise
`manager.errors.UserError` subclasses with one actionable message.

Neighbours: `api/port.py` (the Protocol this implements), `manager.loop`,
`manager.settings`, `manager.results`, `store.Store`, `backends.local`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal

from skyflock.backends.base import ExecutionBackend
from skyflock.classad import ClassAd, ClassAdSyntaxError, parse
from skyflock.core import explain, fairshare
from skyflock.core.groups import group_of
from skyflock.core.model import submitter_of
from skyflock.manager.errors import BadInput, Conflict, NotFound
from skyflock.manager.loop import ManagerLoop
from skyflock.manager.policy import HoldCode
from skyflock.manager.recovery import RecoveryReport, recover
from skyflock.manager.results import (
    ActionResult,
    Analysis,
    ClusterInfo,
    ClusterStats,
    JobEvent,
    ManagerStats,
    RefusedJob,
    SubmitResult,
    SubmitterPriority,
)
from skyflock.manager.settings import ServerSettings
from skyflock.manager.snapshot import (
    HELD,
    IDLE,
    RUNNING,
    ClusterView,
    LiveJob,
    slot_id_of,
)
from skyflock.store import (
    KEEP,
    ClusterRecord,
    JobRecord,
    Selection,
    Store,
)
from skyflock.store.submitting import SUBMITTED_ON_HOLD_REASON
from skyflock.submit import SubmitError, parse_submit_cluster

Stream = Literal["stdout", "stderr", "events"]


class Manager:
    """The server: store + backends + loop, behind the facade the API calls."""

    def __init__(
        self,
        settings: ServerSettings,
        *,
        backends: Mapping[str, ExecutionBackend] | None = None,
    ) -> None:
        self.settings = settings
        self._given_backends = dict(backends) if backends is not None else None
        self._store: Store | None = None
        self._loop: ManagerLoop | None = None
        self.recovery: RecoveryReport | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("the manager is not started")
        return self._store

    @property
    def loop(self) -> ManagerLoop:
        if self._loop is None:
            raise RuntimeError("the manager is not started")
        return self._loop

    def _make_backends(self) -> dict[str, ExecutionBackend]:
        if self._given_backends is not None:
            return self._given_backends
        from skyflock.backends.local import LocalBackend

        local = self.settings.local
        if not local.enabled:
            return {}
        backend = LocalBackend(
            str(self.settings.data_dir),
            name="local",
            cpus=local.cpus,
            memory_mib=local.memory_mib,
            reserved_memory_mib=local.reserved_memory_mib,
            disk_kib=local.disk_kib,
            labels=local.labels,
            starter=self.settings.exit_records,
        )
        return {"local": backend}

    async def start(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._store = Store.open(self.settings.database_url, data_dir=self.settings.data_dir)
        backends = self._make_backends()
        clusters: dict[str, ClusterView] = {}
        for name in backends:
            tier = self.settings.local.tier if name == "local" else 0
            kind = "local" if name == "local" else "agents"
            clusters[name] = ClusterView(name=name, kind=kind, tier=tier)
            self._store.clusters.put(ClusterRecord(name=name, kind=kind, tier=tier))
        self._loop = ManagerLoop(self._store, backends, clusters, self.settings)
        self._loop.load()
        self.recovery = await recover(self._loop)
        # What exists now (the imported modules, the loaded queue) lives as long as the
        # server: the collector's full passes need not walk it again and again while
        # short jobs churn through (undone in `stop`).
        gc.collect()
        gc.freeze()
        self._loop.start_tasks()

    async def stop(self) -> None:
        gc.unfreeze()
        settled = True
        if self._loop is not None:
            await self._loop.stop()
            settled = self._loop.writes_settled
            for backend in self._loop.backends.values():
                await backend.close(vacate=False)
        if self._store is not None and settled:
            self._store.close()  # a store still busy in a worker thread is left to the exit
        self._loop = None
        self._store = None

    # -- submit ------------------------------------------------------------------------------

    async def submit(
        self,
        text: str,
        *,
        filename: str,
        base_dir: str,
        owner: str,
        environ: Mapping[str, str] | None = None,
    ) -> SubmitResult:
        """Parse a submit description and queue its jobs as one new cluster.

        The ClusterId is reserved first, so `$(Cluster)` expands to the id the
        jobs get; a description that fails to parse leaves that id unused (as
        HTCondor's schedd does). The jobs enter the live queue without a
        ClassAd each (`LiveJob` builds one when it is first needed).
        """
        store = self.store
        cluster_id = await asyncio.to_thread(store.jobs.new_cluster_id)
        try:
            cluster = await asyncio.to_thread(
                parse_submit_cluster,
                text,
                cluster_id=cluster_id,
                base_dir=base_dir,
                filename=filename,
                environ=environ,
                owner=owner,
            )
        except SubmitError as exc:
            raise BadInput(str(exc)) from None
        except ClassAdSyntaxError as exc:
            raise BadInput(f"{filename}: {exc}") from None
        if len(cluster) == 0:
            raise BadInput(f"{filename}: the submit description queues no jobs")
        warnings = tuple(str(w) for w in cluster.warnings)
        template = cluster.cluster_ad
        if "Owner" not in template:
            template["Owner"] = owner
        template["ClusterId"] = cluster_id
        now = time.time()
        try:
            submitted = await asyncio.to_thread(
                store.jobs.submit_cluster, template, cluster.procs, cluster_id=cluster_id, now=now
            )
        except ValueError as exc:
            raise BadInput(str(exc)) from None
        hot = _HotAttributes(template)
        live = self.loop.live
        added = []
        for job_id, own in zip(submitted.job_ids, cluster.procs, strict=True):
            submitter, prio, held = hot.of(own)
            if held:
                own = {**own, **_SUBMIT_HOLD}
            job = LiveJob(
                job_id,
                None,
                submitter,
                HELD if held else IDLE,
                "",
                now,
                prio,
                template=template,
                own=own,
            )
            live.add(job)
            added.append(job)
        self.loop.log_submitted(added, now)
        self.loop.trigger()
        return SubmitResult(submitted.cluster_id, submitted.job_ids, warnings)

    async def submit_ads(self, ads: Sequence[ClassAd], *, owner: str) -> SubmitResult:
        if not ads:
            raise BadInput("nothing to submit: no job ads")
        prepared = []
        for i, ad in enumerate(ads):
            copy = ad.copy()
            copy["Owner"] = owner
            if "Cmd" not in copy:
                raise BadInput(f"job ad {i}: Cmd (the executable) is required")
            prepared.append(copy)
        now = time.time()
        try:
            submitted = await asyncio.to_thread(self.store.jobs.submit, prepared, now=now)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
        live = self.loop.live
        added = []
        for proc, (job_id, ad) in enumerate(zip(submitted.job_ids, prepared, strict=True)):
            ad["ClusterId"] = submitted.cluster_id
            ad["ProcId"] = proc
            submitter, prio, held = _HotAttributes(ad).of({})
            if held:
                ad.update(_SUBMIT_HOLD)
            job = LiveJob(job_id, ad, submitter, HELD if held else IDLE, "", now, prio)
            live.add(job)
            added.append(job)
        self.loop.log_submitted(added, now)
        self.loop.trigger()
        return SubmitResult(submitted.cluster_id, submitted.job_ids)

    # -- reads -------------------------------------------------------------------------------

    def _check_constraint(self, constraint: str | None) -> None:
        if constraint:
            try:
                parse(constraint)
            except ClassAdSyntaxError as exc:
                raise BadInput(f"constraint: {exc}") from None

    def query(
        self,
        constraint: str | None = None,
        *,
        ids: Sequence[str] = (),
        projection: Sequence[str] = (),
        limit: int | None = None,
    ) -> list[ClassAd]:
        self._check_constraint(constraint)
        sel = Selection(ids=list(ids) or None, constraint=constraint or None, limit=limit)
        return [_project(r.ad, projection) for r in self.store.jobs.query(sel)]

    def history(self, constraint: str | None = None, *, limit: int = 100) -> list[ClassAd]:
        self._check_constraint(constraint)
        sel = Selection(constraint=constraint or None, limit=limit)
        return [r.ad for r in self.store.history.query(sel)]

    def _record(self, job_id: str) -> JobRecord:
        record = self.store.job(job_id)
        if record is None:
            raise NotFound(f"no job {job_id} in the queue or the history")
        return record

    def job_events(self, job_id: str) -> list[JobEvent]:
        self._record(job_id)
        return [
            JobEvent(
                seq=e.seq,
                job_id=e.job_id,
                time=e.time,
                kind=e.kind,
                cluster=e.cluster_name,
                slot=e.slot_id,
                code=e.code,
                subcode=e.subcode,
                message=e.message,
            )
            for e in self.store.events.for_job(job_id)
        ]

    def log_path(self, job_id: str, stream: Stream) -> Path:
        if stream not in ("stdout", "stderr", "events"):
            raise BadInput(f"stream: one of stdout, stderr, events (got {stream!r})")
        record = self._record(job_id)
        if stream == "events":
            return self._write_event_log(job_id)
        entry = self.store.logs.get(job_id, stream)
        if entry is not None:
            return Path(entry.path)
        backend = self.loop.backends.get(record.cluster_name or "local")
        if backend is None:
            raise NotFound(f"job {job_id} has no {stream} log: it never started")
        paths = backend.log_paths(job_id)
        return Path(paths.stdout if stream == "stdout" else paths.stderr)

    def _write_event_log(self, job_id: str) -> Path:
        """The job's event log as text under the data dir (rendered from the store)."""
        path = self.settings.logs_dir / job_id / "events"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        for e in self.job_events(job_id):
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.time))
            parts = [f"{stamp} {e.kind}"]
            if e.cluster or e.slot:
                parts.append(f"on {e.slot or '?'} of cluster {e.cluster or '?'}")
            if e.code is not None:
                parts.append(f"code {e.code}" + (f".{e.subcode}" if e.subcode else ""))
            if e.message:
                parts.append(f"- {e.message}")
            lines.append(" ".join(parts))
        tmp = path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + ("\n" if lines else ""))
        tmp.replace(path)
        return path

    def job_finished(self, job_id: str) -> bool:
        if self.loop.live.get(job_id) is not None:
            return False
        return self.store.history.get(job_id) is not None

    # -- actions -----------------------------------------------------------------------------

    def _select(self, ids: Sequence[str], constraint: str | None) -> list[str]:
        if not ids and not constraint:
            raise BadInput("name job ids or a constraint")
        chosen = list(dict.fromkeys(ids))
        if constraint:
            self._check_constraint(constraint)
            for record in self.store.jobs.query(Selection(constraint=constraint)):
                if record.id not in chosen:
                    chosen.append(record.id)
        return chosen

    @staticmethod
    def _result(
        action: str, moved: Sequence[str], refused: Sequence[tuple[str, str]], *, by_ids: bool
    ) -> ActionResult:
        if by_ids and not moved and refused:
            messages = "; ".join(m for _, m in refused[:5])
            if all(m.startswith("no job ") for _, m in refused):
                raise NotFound(messages)
            raise Conflict(messages)
        return ActionResult(action, tuple(moved), tuple(RefusedJob(i, m) for i, m in refused))

    async def remove(
        self, ids: Sequence[str] = (), constraint: str | None = None, reason: str = ""
    ) -> ActionResult:
        chosen = self._select(ids, constraint)
        done = await self.loop.remove(chosen, reason or "removed by the user")
        return self._result("remove", done.moved, done.refused, by_ids=not constraint)

    async def hold(
        self, ids: Sequence[str] = (), constraint: str | None = None, reason: str = ""
    ) -> ActionResult:
        chosen = self._select(ids, constraint)
        text = reason or "held by the user"
        done = await self.loop.hold(chosen, text, int(HoldCode.USER_REQUEST))
        return self._result("hold", done.moved, done.refused, by_ids=not constraint)

    async def release(self, ids: Sequence[str] = (), constraint: str | None = None) -> ActionResult:
        chosen = self._select(ids, constraint)
        done = await self.loop.release(chosen)
        return self._result("release", done.moved, done.refused, by_ids=not constraint)

    async def qedit(
        self,
        ids: Sequence[str] = (),
        constraint: str | None = None,
        *,
        attribute: str,
        expression: str,
    ) -> ActionResult:
        chosen = self._select(ids, constraint)
        try:
            value = parse(expression)
        except ClassAdSyntaxError as exc:
            raise BadInput(f"{attribute}: {exc}") from None
        try:
            done = await self.loop.edit(chosen, attribute, expression, value)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
        return self._result("qedit", done.moved, done.refused, by_ids=not constraint)

    # -- pool --------------------------------------------------------------------------------

    def slots(self) -> list[ClassAd]:
        self.loop.refresh_capacity()
        return [slot.ad for slot in self.loop.live.slots(self.loop.clusters)]

    def clusters(self) -> list[ClusterInfo]:
        loop = self.loop
        used = loop.live.used_by_slot()
        running: dict[str, int] = {}
        for job in loop.live.claimed.values():
            if job.claim is not None and job.status == RUNNING:
                running[job.claim.cluster] = running.get(job.claim.cluster, 0) + 1
        out = []
        for view in loop.clusters.values():
            cores = sum(o.cpus for o in view.offers)
            memory = sum(o.memory_mib for o in view.offers)
            cores_used = sum(
                used.get(slot_id_of(view.name, o), (0, 0, 0, 0))[0] for o in view.offers
            )
            mem_used = sum(used.get(slot_id_of(view.name, o), (0, 0, 0, 0))[1] for o in view.offers)
            out.append(
                ClusterInfo(
                    name=view.name,
                    kind=view.kind,
                    tier=view.tier,
                    cores_total=cores,
                    cores_used=cores_used,
                    memory_total_mib=memory,
                    memory_used_mib=mem_used,
                    slots=len(view.offers),
                    running_jobs=running.get(view.name, 0),
                    healthy=view.healthy,
                    cordoned=view.cordoned,
                    message=view.message,
                )
            )
        return out

    # -- fair share --------------------------------------------------------------------------

    def _priority(self, submitter: str) -> SubmitterPriority:
        loop = self.loop
        state = loop.accounting
        config = loop.config
        usage = state.submitters.get(submitter)
        running = idle = 0
        for job in loop.live:
            if job.submitter != submitter:
                continue
            if job.status == RUNNING:
                running += 1
            elif job.status == IDLE:
                idle += 1
        return SubmitterPriority(
            submitter=submitter,
            group=group_of(submitter, config),
            real_priority=fairshare.real_priority(state, submitter, config),
            effective_priority=fairshare.effective_priority(state, submitter, config),
            priority_factor=fairshare.priority_factor(state, submitter, config),
            accumulated_usage=usage.accumulated_usage if usage else 0.0,
            running=running,
            idle=idle,
            floor=usage.floor if usage else None,
            ceiling=usage.ceiling if usage else None,
        )

    def userprio(self) -> list[SubmitterPriority]:
        names = set(self.loop.accounting.submitters)
        names.update(job.submitter for job in self.loop.live)
        return sorted(
            (self._priority(n) for n in names), key=lambda p: (p.effective_priority, p.submitter)
        )

    async def set_userprio(
        self,
        submitter: str,
        *,
        factor: float | None = None,
        floor: float | None = None,
        ceiling: float | None = None,
    ) -> SubmitterPriority:
        try:
            self.store.accounting.update_settings(
                submitter,
                priority_factor=KEEP if factor is None else factor,
                floor=KEEP if floor is None else floor,
                ceiling=KEEP if ceiling is None else ceiling,
            )
        except ValueError as exc:
            raise BadInput(str(exc)) from None
        loop = self.loop
        stored = self.store.accounting.load()
        merged = dict(loop.accounting.submitters)
        for name, fresh in stored.submitters.items():
            old = merged.get(name)
            merged[name] = (
                fresh
                if old is None
                else dataclasses.replace(
                    old,
                    priority_factor=fresh.priority_factor,
                    floor=fresh.floor,
                    ceiling=fresh.ceiling,
                )
            )
        loop.accounting = dataclasses.replace(loop.accounting, submitters=merged)
        loop.trigger()
        return self._priority(submitter)

    # -- analysis, config, stats -------------------------------------------------------------

    def analyze(self, job_id: str) -> Analysis:
        record = self._record(job_id)
        plan = self.loop.plan
        status = record.status
        if status != IDLE or record.substate:
            where = (
                f" on {record.slot_id} of cluster {record.cluster_name}" if record.slot_id else ""
            )
            text = f"Job {job_id} is {record.state}{where}; only idle jobs wait for a match."
            if status == HELD and record.hold_reason:
                text = (
                    f"Job {job_id} is held (HoldReasonCode {record.hold_reason_code}): "
                    f"{record.hold_reason}"
                )
            return Analysis(job_id, status, text)
        key = plan.autocluster_of.get(job_id)
        explanation = plan.explanations.get(key) if key is not None else None
        if explanation is None:
            text = (
                f"Job {job_id} is idle and has not been considered by a negotiation cycle yet; "
                "try again in a few seconds."
            )
            return Analysis(job_id, status, text)
        text = explain.render(explanation, job_id)  # type: ignore[arg-type]
        data = _jsonable(explanation)
        return Analysis(job_id, status, text, data if isinstance(data, dict) else {})

    def config(self) -> Mapping[str, object]:
        s = self.settings
        return {
            "server": {
                "host": s.host,
                "port": s.port,
                "data_dir": str(s.data_dir),
                "database": _mask(s.database_url),
                "periodic_interval": s.periodic_interval,
                "claim_worklife": s.claim_worklife,
                "exit_records": s.exit_records,
                "config_file": str(s.config_path) if s.config_path else None,
            },
            "negotiator": _jsonable(s.negotiator),
            "clusters": {
                "local": _jsonable(s.local),
            },
        }

    def stats(self) -> ManagerStats:
        loop = self.loop
        by_status, by_submitter = loop.live.counts()
        cluster_stats = tuple(
            ClusterStats(c.name, c.slots, c.cores_total, c.cores_used) for c in self.clusters()
        )
        return ManagerStats(
            jobs_by_status=by_status,
            jobs_by_submitter=by_submitter,
            cycles=loop.stats.cycles,
            last_cycle_seconds=loop.stats.last_duration,
            last_cycle_matches=loop.stats.last_matches,
            total_matches=loop.stats.total_matches + loop.stats.reused_claims,
            total_preemptions=loop.stats.preemptions,
            completed_total=loop.stats.completed,
            clusters=cluster_stats,
        )


_SUBMIT_HOLD: Final[Mapping[str, object]] = {
    "HoldReason": SUBMITTED_ON_HOLD_REASON,
    "HoldReasonCode": int(HoldCode.SUBMITTED_ON_HOLD),
    "HoldReasonSubCode": 0,
}
"""What the ad of a job submitted on hold says (the store wrote the same)."""


class _HotAttributes:
    """Submitter, JobPrio and submit-on-hold of the jobs of one submit: read once
    from the cluster ad, and again only for a job whose own values change them."""

    _NAMES = frozenset(
        n.lower() for n in ("AccountingGroup", "AcctGroup", "Owner", "JobPrio", "JobStatus")
    )

    def __init__(self, template: ClassAd) -> None:
        self._template = template
        self._shared: tuple[str, int, bool] | None = None
        self._reads = set(self._NAMES)
        for name in self._NAMES:
            expr = template.lookup(name)
            if expr is not None:
                self._reads |= expr.internal_refs(template)

    def of(self, own: Mapping[str, object]) -> tuple[str, int, bool]:
        if own and not self._reads.isdisjoint(k.lower() for k in own):
            ad = self._template.copy()
            ad.update(own)
            return self._read(ad)
        if self._shared is None:
            self._shared = self._read(self._template)
        return self._shared

    @staticmethod
    def _read(ad: ClassAd) -> tuple[str, int, bool]:
        prio = ad.eval("JobPrio")
        return (
            submitter_of(ad),
            prio if isinstance(prio, int) and not isinstance(prio, bool) else 0,
            ad.eval("JobStatus") == HELD,
        )


def _project(ad: ClassAd, projection: Sequence[str]) -> ClassAd:
    if not projection:
        return ad
    out = ClassAd()
    for name in projection:
        expr = ad.lookup(name)
        if expr is not None:
            out[ad.name_of(name) or name] = expr
    return out


def _mask(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
