"""Running a submit description: statements in order, macros, includes, `if`, queue.

The interpreter walks the reader's statements keeping the macro table:
`name = value` defines a macro (a definition that mentions its own name sees
the previous value); `include : file` reads another description through the
`SubmitFiles` port, relative to the including file, refusing cycles;
`if`/`elif`/`else`/`endif` choose statements (`defined NAME`, true/false, a
number or a constant ClassAd expression, after macro expansion); `error :` and
`warning :` report; every `queue` hands the table to the builder, which returns a `QueueBlock`;
`run_cluster` merges the blocks into one `SubmitCluster`, `run` expands it
into full ads.
Consecutive queue statements share a cluster while the executable stays the
same, as in condor_submit; a new executable starts the next cluster.

At the end, commands that are neither known nor used as macros are reported
as warnings (`file:line: unknown submit command 'foo' (ignored)`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field

from skyflock.classad import ClassAd
from skyflock.submit.builder import build_block, resolve
from skyflock.submit.cluster import QueueBlock, SubmitCluster, merge_blocks
from skyflock.submit.commands import (
    KNOWN,
    Context,
    custom_request_warning,
    unknown_command_warning,
)
from skyflock.submit.errors import SubmitWarning, Where
from skyflock.submit.exprs import constant
from skyflock.submit.files import SubmitFiles
from skyflock.submit.macros import Expander, MacroTable, references, substitute_self
from skyflock.submit.queue import parse_queue, queue_rows
from skyflock.submit.reader import Statement, read_statements
from skyflock.submit.rules import rules_for

MAX_INCLUDE_DEPTH = 20


@dataclass
class SubmitResult:
    """The jobs a submit description queues, and what it warned about."""

    jobs: list[ClassAd]
    warnings: list[SubmitWarning] = field(default_factory=list)


@dataclass
class _Frame:
    active: bool
    taken: bool
    seen_else: bool
    where: Where


class Interpreter:
    def __init__(
        self,
        *,
        files: SubmitFiles,
        base_dir: str,
        environ: Mapping[str, str],
        owner: str | None,
        cluster_id: int,
        filename: str,
    ) -> None:
        self.files = files
        self.base_dir = base_dir
        self.environ = environ
        self.owner = owner
        self.cluster_id = cluster_id
        self.next_proc = 0
        self.filename = filename
        self.table = MacroTable()
        self.warnings: list[SubmitWarning] = []
        self.blocks: list[QueueBlock] = []
        self.used: set[str] = set()
        self.first_set: dict[str, Where] = {}
        self.last_executable: str | None = None
        self.queued = False
        self.expander = Expander(
            self.table,
            defaults={
                "ARCH": "X86_64",
                "OPSYS": "LINUX",
                "IsLinux": "1",
                "IsWindows": "0",
                "SUBMIT_FILE": filename,
                "Cluster": str(cluster_id),
                "ClusterId": str(cluster_id),
                "Process": "0",
                "ProcId": "0",
                "Step": "0",
                "Row": "0",
                "ItemIndex": "0",
                "Node": "",
            },
            environ=environ,
            base_dir=base_dir,
            evaluate=constant,
            warnings=self.warnings,
        )

    # -- running -------------------------------------------------------------
    def run(self, text: str) -> SubmitResult:
        """The full job ads (see `run_cluster` for the cheaper shape)."""
        cluster = self.run_cluster(text)
        return SubmitResult(cluster.ads(), cluster.warnings)

    def run_cluster(self, text: str) -> SubmitCluster:
        """The jobs as one cluster ad and each job's own values."""
        top = (
            posixpath.normpath(posixpath.join(self.base_dir, posixpath.basename(self.filename)))
            if not self.filename.startswith("<")
            else None
        )
        self._run_file(text, self.filename, self.base_dir, [top] if top else [])
        self._report_unknown()
        unique = list(dict.fromkeys(self.warnings))
        return merge_blocks(self.blocks, unique)

    def _run_file(self, text: str, shown: str, directory: str, stack: list[str]) -> None:
        statements = read_statements(text, shown)
        conditions: list[_Frame] = []
        for st in statements:
            if st.kind in ("if", "elif", "else", "endif"):
                self._conditional(st, conditions)
                continue
            if conditions and not conditions[-1].active:
                continue
            if st.kind == "set":
                self._set(st)
            elif st.kind == "include":
                self._include(st, directory, stack)
            elif st.kind == "error":
                raise st.where.error(self._expand(st.value, st.where) or "error statement")
            elif st.kind == "warning":
                self.warnings.append(st.where.warning(self._expand(st.value, st.where)))
            elif st.kind == "queue":
                self._queue(st)
        if conditions:
            raise conditions[-1].where.error("'if' without a matching 'endif'")

    def _expand(self, text: str, where: Where) -> str:
        self.used.update(references(text))
        return self.expander.expand(text, where).strip()

    def _set(self, st: Statement) -> None:
        key = st.key.lower()
        self.used.update(references(st.value) - {key})
        raw = substitute_self(st.value, st.key, self.table.get(key))
        self.table.set(st.key, raw, st.where)
        self.first_set.setdefault(key, st.where)

    def _include(self, st: Statement, directory: str, stack: list[str]) -> None:
        target = self._expand(st.value, st.where)
        if not target:
            raise st.where.error("include needs a file name")
        path = posixpath.normpath(posixpath.join(directory, target))
        if path in stack:
            chain = " -> ".join(self._shown(p) for p in [*stack[stack.index(path) :], path])
            raise st.where.error(f"include cycle: {chain}")
        if len(stack) >= MAX_INCLUDE_DEPTH:
            raise st.where.error(f"includes nest deeper than {MAX_INCLUDE_DEPTH}")
        try:
            text = self.files.read_text(path)
        except OSError as exc:
            raise st.where.error(f"cannot include '{target}': {exc.strerror or exc}") from None
        self._run_file(text, self._shown(path), posixpath.dirname(path), [*stack, path])

    def _shown(self, path: str) -> str:
        base = self.base_dir.rstrip("/") + "/"
        return path[len(base) :] if path.startswith(base) else path

    def _conditional(self, st: Statement, stack: list[_Frame]) -> None:
        parent_active = all(f.active for f in stack)
        if st.kind == "if":
            value = parent_active and self._condition(st)
            stack.append(_Frame(value, value, False, st.where))
            return
        if not stack:
            raise st.where.error(f"'{st.kind}' without a matching 'if'")
        frame = stack[-1]
        if st.kind == "endif":
            stack.pop()
            return
        if frame.seen_else:
            raise st.where.error(f"'{st.kind}' after 'else'")
        outer = all(f.active for f in stack[:-1])
        if st.kind == "else":
            frame.seen_else = True
            frame.active = outer and not frame.taken
        else:
            frame.active = outer and not frame.taken and self._condition(st)
        frame.taken = frame.taken or frame.active

    def _condition(self, st: Statement) -> bool:
        text = st.value
        words = text.split(None, 1)
        if words and words[0].lower() == "defined":
            name = self._expand(words[1] if len(words) > 1 else "", st.where)
            self.used.add(name.lower())
            return bool(name) and self.expander.lookup(name) is not None
        value_text = self._expand(text, st.where)
        lowered = value_text.lower()
        if lowered in ("true", "yes"):
            return True
        if lowered in ("false", "no", ""):
            return False
        try:
            value = constant(value_text)
        except ValueError:
            value = None
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return value != 0
        raise st.where.error(f"cannot decide 'if {text}': '{value_text}' is not true or false")

    def _queue(self, st: Statement) -> None:
        args = self._expand(st.value, st.where)
        for _, line in st.block:
            self.used.update(references(line))
        block = tuple((n, self.expander.expand(line, st.where)) for n, line in st.block)
        spec = parse_queue(args, block, st.where, constant)
        rows = queue_rows(spec, self.files, self.base_dir, st.where)
        exe = resolve(self.table, "executable")
        exe_text = self.expander.expand(exe.raw, exe.where).strip() if exe else None
        if self.queued and exe_text != self.last_executable:
            self.cluster_id += 1
            self.next_proc = 0
        self.queued = True
        self.last_executable = exe_text
        ctx = Context(self.base_dir, self.environ, self.owner, st.where, self.warnings)
        queued = build_block(
            self.table,
            self.expander,
            rules_for({k: self.table.spelled[k] for k in self.table.order}, self.owner),
            spec.variables,
            rows,
            spec.count,
            self.cluster_id,
            self.next_proc,
            ctx,
        )
        self.next_proc += len(queued.procs)
        self.blocks.append(queued)

    def _report_unknown(self) -> None:
        for key, where in self.first_set.items():
            if key.startswith("+") or key.startswith("my."):
                continue
            if key.startswith("request_") and key not in KNOWN:
                hint = custom_request_warning(key)
                if hint:
                    self.warnings.append(where.warning(hint))
                continue
            if key in KNOWN or key in self.used:
                continue
            self.warnings.append(where.warning(unknown_command_warning(key)))
