"""One negotiation cycle over a synthetic federation: wall time, matches per second, memory.

    python bench/negotiator_bench.py --slots 10000 --jobs 100000 --shapes 100 --submitters 50

The pool: partitionable slots spread over five clusters (two on-premise tier-1
sites, a tier-2 site, two tier-2/3 clouds, one with GPU nodes), each with a few
machine sizes. The workload: idle jobs of K distinct shapes (CPUs, memory,
GPUs and a Requirements variant: tier cap, a cluster excluded, an OS pin) from
U submitters in three-level accounting groups (`atlas.prod.u7`) with static and
dynamic quotas. Jobs of one shape share their expression objects, as jobs of
one submission do. Building the snapshot is not timed; `negotiate` is.
Peak memory is the process's maximum resident set size (snapshot included).
The CPU time of the cycle is printed next to its wall time: on a shared
machine the difference is time spent waiting for a core.

The snapshot comes with the hints a queue that knows each job's submission
gives (`Snapshot.batches`, `in_submission_order`); `--no-hints` leaves them
out. Building a million ads leaves the cyclic garbage collector close to a
full collection (a pass over every object of the heap, about a second here),
which the cycle's first allocations would then trigger; by default the
benchmark settles it with `gc.collect()` before timing, so the cycle pays for
the collections its own allocations cause. `--gc on|freeze|off` measures it
as the build left it, with the snapshot frozen, or with the collector off.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from skyflock.classad import ClassAd, parse
from skyflock.core.config import negotiator_config
from skyflock.core.model import AccountingState, ClusterState, IdleBatch, Job, Slot, Snapshot
from skyflock.core.negotiate import negotiate

CLUSTERS = [
    # name, tier, share of slots, machine sizes (cpus, memory MiB per core, gpus)
    ("cern", 1, 0.35, [(32, 2000, 0), (64, 2000, 0), (64, 4000, 0)]),
    ("desy", 1, 0.15, [(32, 3000, 0), (48, 2000, 0)]),
    ("tsystems", 2, 0.2, [(16, 4000, 0), (32, 4000, 0)]),
    ("gcp", 2, 0.15, [(16, 4000, 0), (8, 8000, 4)]),
    ("aws", 3, 0.15, [(16, 2000, 0), (32, 2000, 0)]),
]

GROUPS_CONFIG = {
    "negotiator": {},
    "groups": {
        "atlas": {"quota": 0.0, "accept_surplus": True},
        "atlas.prod": {"dynamic_quota": 0.7, "accept_surplus": True},
        "atlas.analysis": {"dynamic_quota": 0.3, "accept_surplus": True},
        "cms": {"quota": 0.0, "accept_surplus": True},
        "cms.prod": {"dynamic_quota": 0.6, "accept_surplus": True},
        "cms.analysis": {"dynamic_quota": 0.4, "accept_surplus": True},
        "lhcb": {"quota": 0.0, "accept_surplus": True},
    },
}

VARIANTS = [
    "",
    " && TARGET.Tier <= 1",
    ' && TARGET.ClusterName != "aws"',
    ' && TARGET.OpSys == "LINUX"',
    " && TARGET.Tier <= 2",
    ' && TARGET.ClusterName != "cern"',
    " && TARGET.TotalCpus >= 32",
    ' && TARGET.Site =!= "Frankfurt"',
]


def build_slots(count: int, rng: random.Random) -> tuple[list[Slot], float]:
    start = parse("true")
    cloud_start = parse("TARGET.RequestCpus <= 16")
    slots: list[Slot] = []
    cores = 0.0
    for name, tier, share, sizes in CLUSTERS:
        n = max(1, round(count * share)) if name != CLUSTERS[-1][0] else count - len(slots)
        for i in range(n):
            cpus, per_core, gpus = sizes[i % len(sizes)]
            memory = cpus * per_core
            disk = cpus * 20_000_000
            ad = ClassAd(
                {
                    "Machine": f"{name}-{i:06d}",
                    "Name": f"slot1@{name}-{i:06d}",
                    "ClusterName": name,
                    "Tier": tier,
                    "Cloud": name in ("gcp", "aws"),
                    "Site": "Frankfurt" if name == "tsystems" else name,
                    "Arch": "X86_64",
                    "OpSys": "LINUX",
                    "Cpus": cpus,
                    "Memory": memory,
                    "Disk": disk,
                    "GPUs": gpus,
                    "TotalCpus": cpus,
                    "TotalMemory": memory,
                    "TotalDisk": disk,
                    "TotalGPUs": gpus,
                }
            )
            ad["Start"] = cloud_start if name in ("gcp", "aws") else start
            ad["Requirements"] = ad.lookup("Start")
            slots.append(Slot(f"slot1@{name}-{i:06d}", ad))
            cores += cpus
    return slots, cores


def submitter_names(count: int) -> list[str]:
    top = ["atlas.prod", "atlas.analysis", "cms.prod", "cms.analysis", "lhcb"]
    return [f"{top[u % len(top)]}.u{u}" for u in range(count)]


def build_jobs(
    count: int, shapes: int, submitters: list[str], rng: random.Random
) -> tuple[list[Job], tuple[IdleBatch, ...]]:
    """The idle jobs, in submission order, and their batches (jobs of one shape, submitter and
    JobPrio, which differ only in `ClusterId`, `ProcId` and `QDate`), as a queue that knows
    each job's submission would hand them to the negotiator."""
    base = (
        'TARGET.Arch == "X86_64" && TARGET.Disk >= RequestDisk'
        " && TARGET.Memory >= RequestMemory && TARGET.Cpus >= RequestCpus"
    )
    kinds = []
    for k in range(shapes):
        cpus = (1, 2, 4, 8)[k % 4]
        variant = VARIANTS[(k // 4) % len(VARIANTS)]
        memory = 1000 * cpus + 250 * ((k // 32) % 32)
        gpus = 1 if k % 97 == 96 else 0
        req = base + variant + (" && TARGET.GPUs >= RequestGPUs" if gpus else "")
        kinds.append(
            ClassAd(
                {
                    "RequestCpus": cpus,
                    "RequestMemory": memory,
                    "RequestDisk": cpus * 1_000_000,
                    "RequestGPUs": gpus,
                    "Requirements": parse(req),
                    "Rank": parse("0"),
                }
            )
        )
    jobs: list[Job] = []
    alike: dict[tuple[int, str, int], list[int]] = {}
    # one submission's ad per (shape, submitter, JobPrio), copied per job with its own
    # ClusterId, ProcId and QDate: the jobs share every other expression object, as the
    # manager's jobs of one submit share their cluster ad's
    submits: dict[tuple[int, str, int], ClassAd] = {}
    for i in range(count):
        k = rng.randrange(shapes)
        who = submitters[(k + rng.randrange(3)) % len(submitters)]
        prio = 5 if rng.random() < 0.1 else 0
        template = submits.get((k, who, prio))
        if template is None:
            template = submits[(k, who, prio)] = kinds[k].copy()
            template["Owner"] = who.rsplit(".", 1)[-1]
            template["AccountingGroup"] = who
            template["JobPrio"] = prio
        ad = template.copy()
        ad["ClusterId"] = 1 + i // 100
        ad["ProcId"] = i % 100
        ad["QDate"] = 1_700_000_000 + i
        jobs.append(Job(f"{1 + i // 100}.{i % 100}", ad, who))
        alike.setdefault((k, who, prio), []).append(i)
    batches = tuple(IdleBatch(members, VARYING) for members in alike.values())
    return jobs, batches


VARYING = frozenset({"clusterid", "procid", "qdate"})
"""The attributes in which the jobs of one batch differ."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--shapes", type=int, default=100)
    parser.add_argument("--submitters", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-hints",
        action="store_true",
        help="leave out the snapshot's batches and submission-order hint (every ad is read)",
    )
    parser.add_argument(
        "--gc",
        choices=("settled", "on", "freeze", "off"),
        default="settled",
        help="the cyclic garbage collector: a full collection before the cycle and on during it"
        " (settled, the default), on as building the snapshot left it (on), the snapshot"
        " frozen out of its reach (freeze), or off during the cycle (off)",
    )
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    slots, cores = build_slots(args.slots, rng)
    jobs, batches = build_jobs(args.jobs, args.shapes, submitter_names(args.submitters), rng)
    config = negotiator_config(GROUPS_CONFIG)
    clusters = {name: ClusterState(name, tier) for name, tier, _, _ in CLUSTERS}
    snapshot = Snapshot(
        tuple(jobs),
        (),
        tuple(slots),
        AccountingState(),
        clusters,
        batches=None if args.no_hints else batches,
        in_submission_order=not args.no_hints,
    )
    built = time.perf_counter() - t0
    settle = 0.0
    if args.gc in ("settled", "freeze"):
        c0 = time.process_time()
        gc.collect()
        settle = time.process_time() - c0
    if args.gc == "freeze":
        gc.freeze()
    elif args.gc == "off":
        gc.disable()
    t1 = time.perf_counter()
    c1 = time.process_time()
    plan = negotiate(snapshot, config, now=1_700_100_000.0, seed=args.seed)
    wall = time.perf_counter() - t1
    cpu = time.process_time() - c1
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    matched_cpus = sum(m.cpus for m in plan.matches)
    print(f"pool: {len(slots)} partitionable slots, {cores:.0f} cores, 5 clusters")
    print(
        f"workload: {len(jobs)} idle jobs, {args.shapes} shapes,"
        f" {args.submitters} submitters (snapshot built in {built:.1f} s, not timed)"
    )
    print(
        f"cycle: {wall:.2f} s wall ({cpu:.2f} s CPU), {len(plan.matches)} matches"
        f" ({len(plan.matches) / wall:,.0f} matches/s), {matched_cpus} cores matched,"
        f" {len(plan.explanations)} idle autoclusters explained"
    )
    stats = ", ".join(f"{k} {v:g}" for k, v in plan.stats.items())
    print(f"stats: {stats}")
    print(f"peak memory (max RSS, snapshot included): {peak_mib:,.0f} MiB")
    hints = "none" if args.no_hints else f"{len(batches)} batches, submission order"
    collected = f" (a full collection before the cycle: {settle:.2f} s CPU)" if settle else ""
    print(f"snapshot hints: {hints}; garbage collector: {args.gc}{collected}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
