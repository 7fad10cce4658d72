"""Macro expansion for submit descriptions, with HTCondor's forms.

    $(name)  $(name:default)        a macro, or the default when it is undefined
    $(Cluster) $(ClusterId) $(Process) $(ProcId) $(Step) $(Row) $(ItemIndex)
    $(Item) $(JobId) $(Node)        live values, set per job by the interpreter
    $ENV(NAME)  $ENV(NAME:default)  the submitting environment (an argument)
    $INT(name[,fmt]) $REAL(name[,fmt])  the macro's value evaluated as a ClassAd
                                    expression and printf-formatted
    $SUBSTR(name,start[,len])  $CHOICE(index,a,b,...)
    $F[fpdnxbqa](name)              path pieces (`$Fnx(file)` is the base name)
    $(DOLLAR)                       a literal `$`
    $$(Attr)  $$([expr])            left alone: HTCondor's match-time binding

Undefined macros expand to nothing, as in condor_submit. Expansion is innermost
first and recursive, with a depth limit that turns a macro referring to itself
into an error naming it. The expander is pure: the environment and the base
directory for `$Ff` come in as arguments. Neighbours: the interpreter owns the
macro table and calls `expand`; `references` lets the job builder tell which
commands change from job to job.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from skyflock.submit.errors import SubmitWarning, Where

MAX_DEPTH = 40

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_FUNC = re.compile(r"\$([A-Za-z_]+)\(")
_FUNCTIONS = {"ENV", "INT", "REAL", "SUBSTR", "CHOICE", "RANDOM_CHOICE", "RANDOM_INTEGER"}
_PATH_LETTERS = set("fpdnxbqauw")

Evaluator = Callable[[str], object]
"""Evaluates a ClassAd expression's text to a Python value (for $INT/$REAL)."""


@dataclass
class MacroTable:
    """Macro definitions by case-insensitive name: raw (unexpanded) text and
    where each was defined."""

    values: dict[str, str] = field(default_factory=dict)
    spelled: dict[str, str] = field(default_factory=dict)
    where: dict[str, Where] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    def set(self, name: str, raw: str, where: Where) -> None:
        key = name.lower()
        if key not in self.values:
            self.order.append(key)
        self.values[key] = raw
        self.spelled[key] = name
        self.where[key] = where

    def get(self, name: str) -> str | None:
        return self.values.get(name.lower())

    def copy(self) -> MacroTable:
        return MacroTable(dict(self.values), dict(self.spelled), dict(self.where), list(self.order))


class Expander:
    """Expands macro references in text against a table and a live overlay."""

    def __init__(
        self,
        table: MacroTable,
        *,
        live: Mapping[str, str] | None = None,
        defaults: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
        base_dir: str = ".",
        evaluate: Evaluator | None = None,
        warnings: list[SubmitWarning] | None = None,
    ) -> None:
        self.table = table
        self.live = {k.lower(): v for k, v in (live or {}).items()}
        self.defaults = {k.lower(): v for k, v in (defaults or {}).items()}
        self.environ = environ or {}
        self.base_dir = base_dir
        self.evaluate = evaluate
        self.warnings = warnings

    def with_live(self, live: Mapping[str, str]) -> Expander:
        """The same expander with another live overlay (per job)."""
        clone = Expander.__new__(Expander)
        clone.__dict__.update(self.__dict__)
        clone.live = {k.lower(): v for k, v in live.items()}
        return clone

    def lookup(self, name: str) -> str | None:
        key = name.lower()
        if key in self.live:
            return self.live[key]
        value = self.table.values.get(key)
        if value is not None:
            return value
        return self.defaults.get(key)

    def expand(self, text: str, where: Where, _depth: int = 0, _name: str = "") -> str:
        """`text` with every macro reference expanded."""
        if "$" not in text:
            return text
        if _depth > MAX_DEPTH:
            raise where.error(
                f"macro '{_name}' refers to itself (expansion nests deeper than {MAX_DEPTH})"
            )
        out: list[str] = []
        i = 0
        n = len(text)
        while i < n:
            j = text.find("$", i)
            if j < 0:
                out.append(text[i:])
                break
            out.append(text[i:j])
            if text.startswith("$$", j):
                # match-time binding: copy `$$(...)` through its closing paren
                if text.startswith("$$(", j):
                    close = _matching_paren(text, j + 2)
                    if close < 0:
                        raise where.error(f"'$$(' without a closing ')' in '{text}'")
                    out.append(text[j : close + 1])
                    i = close + 1
                else:
                    out.append("$$")
                    i = j + 2
                continue
            if text.startswith("$(", j):
                close = _matching_paren(text, j + 1)
                if close < 0:
                    raise where.error(f"'$(' without a closing ')' in '{text}'")
                inner = self.expand(text[j + 2 : close], where, _depth + 1, _name)
                out.append(self._macro(inner, text[j : close + 1], where, _depth))
                i = close + 1
                continue
            func = _FUNC.match(text, j)
            if func and _is_function(func.group(1)):
                close = _matching_paren(text, func.end() - 1)
                if close < 0:
                    raise where.error(f"'${func.group(1)}(' without a closing ')' in '{text}'")
                args = self.expand(text[func.end() : close], where, _depth + 1, _name)
                out.append(self._function(func.group(1), args, where, _depth))
                i = close + 1
                continue
            out.append("$")
            i = j + 1
        return "".join(out)

    def value_of(self, name: str, where: Where, depth: int = 0) -> str | None:
        """A macro's fully expanded value, or None when undefined."""
        if name.upper() == "DOLLAR" and self.lookup(name) is None:
            return "$"
        raw = self.lookup(name)
        if raw is None:
            return None
        return self.expand(raw, where, depth + 1, name)

    def _macro(self, inner: str, original: str, where: Where, depth: int) -> str:
        name, colon, default = inner.partition(":")
        name = name.strip()
        if not _NAME.fullmatch(name):
            return original  # not a macro reference; HTCondor leaves such text alone
        value = self.value_of(name, where, depth)
        if value is None:
            return default if colon else ""
        return value

    def _function(self, func: str, args: str, where: Where, depth: int) -> str:
        upper = func.upper()
        if upper == "ENV":
            name, colon, default = args.partition(":")
            name = name.strip()
            if name in self.environ:
                return self.environ[name]
            if colon:
                return default
            if self.warnings is not None:
                self.warnings.append(where.warning(f"environment variable '{name}' is not set"))
            return "UNDEFINED"
        if upper in ("INT", "REAL"):
            return self._number(upper, args, where, depth)
        if upper == "SUBSTR":
            return self._substr(args, where, depth)
        if upper == "CHOICE":
            return self._choice(args, where, depth)
        if upper in ("RANDOM_CHOICE", "RANDOM_INTEGER"):
            raise where.error(
                f"${upper}() is not supported: skyflock expands a submit description "
                "the same way every time"
            )
        return self._path(func[1:], args, where, depth)

    def _operand(self, text: str, where: Where, depth: int) -> str:
        """A function argument: a macro's value when it names one, else itself."""
        text = text.strip()
        if _NAME.fullmatch(text):
            value = self.value_of(text, where, depth)
            if value is not None:
                return value
        return text

    def _number(self, kind: str, args: str, where: Where, depth: int) -> str:
        name, _, fmt = args.partition(",")
        text = self._operand(name, where, depth).strip()
        value = self._evaluate(text)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise where.error(f"${kind}({name.strip()}): '{text}' is not a number")
        fmt = fmt.strip()
        try:
            if kind == "INT":
                return (fmt or "%d") % int(value)
            return (fmt or "%.16G") % float(value)
        except (TypeError, ValueError) as exc:
            raise where.error(f"${kind}({args}): bad format '{fmt}' ({exc})") from None

    def _evaluate(self, text: str) -> object:
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            pass
        if self.evaluate is None:
            return None
        try:
            return self.evaluate(text)
        except ValueError:
            return None

    def _substr(self, args: str, where: Where, depth: int) -> str:
        parts = [p.strip() for p in args.split(",")]
        if len(parts) not in (2, 3):
            raise where.error(f"$SUBSTR({args}): expected $SUBSTR(name, start[, length])")
        value = self._operand(parts[0], where, depth)
        try:
            start = int(self._operand(parts[1], where, depth))
            length = int(self._operand(parts[2], where, depth)) if len(parts) == 3 else None
        except ValueError:
            raise where.error(f"$SUBSTR({args}): start and length must be integers") from None
        if start < 0:
            start = max(0, len(value) + start)
        if length is None:
            return value[start:]
        if length < 0:
            return value[start : len(value) + length]
        return value[start : start + length]

    def _choice(self, args: str, where: Where, depth: int) -> str:
        parts = [p.strip() for p in args.split(",")]
        if len(parts) < 2:
            raise where.error(f"$CHOICE({args}): expected $CHOICE(index, item, item, ...)")
        index_text = self._operand(parts[0], where, depth).strip()
        index = self._evaluate(index_text)
        if isinstance(index, bool) or not isinstance(index, int):
            raise where.error(f"$CHOICE({args}): index '{index_text}' is not an integer")
        items = parts[1:]
        if len(items) == 1 and _NAME.fullmatch(items[0]):
            listed = self.value_of(items[0], where, depth)
            if listed is not None:
                items = [p.strip() for p in listed.split(",")]
        if not 0 <= index < len(items):
            raise where.error(f"$CHOICE({args}): index {index} is outside 0..{len(items) - 1}")
        return items[index]

    def _path(self, letters: str, args: str, where: Where, depth: int) -> str:
        value = self._operand(args, where, depth) if _NAME.fullmatch(args.strip()) else ""
        if _NAME.fullmatch(args.strip()) and self.value_of(args.strip(), where, depth) is None:
            value = ""
        return path_piece(value, letters, self.base_dir)


def path_piece(value: str, letters: str, base_dir: str = ".") -> str:
    """HTCondor's `$F<letters>(...)` applied to a path.

    f: make it absolute (against `base_dir`); p: the whole directory part with a
    trailing slash; d: the last directory (dd, ddd: the last two, three) with a
    trailing slash; n: the file name without its extension; x: the extension
    with its dot; b: drop the trailing slash of p/d; q: wrap in double quotes
    (with a: single quotes); u/w: forward/back slashes.
    """
    path = value.strip()
    if "f" in letters and path and not path.startswith("/"):
        path = posixpath.normpath(posixpath.join(base_dir, path))
    if "u" in letters:
        path = path.replace("\\", "/")
    if "w" in letters:
        path = path.replace("/", "\\")
    want_parts = any(c in letters for c in "pdnx")
    if want_parts:
        slash = max(path.rfind("/"), path.rfind("\\"))
        directory, filename = (path[: slash + 1], path[slash + 1 :]) if slash >= 0 else ("", path)
        pieces = []
        if "p" in letters:
            pieces.append(directory[:-1] if "b" in letters and directory else directory)
        elif "d" in letters:
            count = letters.count("d")
            parts = [p for p in re.split(r"[/\\]", directory) if p]
            chosen = parts[-count:] if parts else []
            text = "/".join(chosen) + ("/" if chosen else "")
            pieces.append(text[:-1] if "b" in letters and text else text)
        dot = filename.rfind(".")
        stem, ext = (filename[:dot], filename[dot:]) if dot > 0 else (filename, "")
        if "n" in letters:
            pieces.append(stem)
        if "x" in letters:
            pieces.append(ext)
        path = "".join(pieces)
    if "q" in letters:
        quote = "'" if "a" in letters else '"'
        path = f"{quote}{path}{quote}"
    return path


def uses_function(text: str) -> bool:
    """True when `text` calls a macro function (`$INT()`, `$Fnx()`...)."""
    return any(_is_function(m.group(1)) for m in _FUNC.finditer(text))


def _is_function(name: str) -> bool:
    if name.upper() in _FUNCTIONS:
        return True
    return len(name) >= 2 and name[0] in "Ff" and all(c in _PATH_LETTERS for c in name[1:])


def _matching_paren(text: str, open_at: int) -> int:
    """Index of the `)` closing the `(` at `open_at`, or -1."""
    depth = 0
    for k in range(open_at, len(text)):
        c = text[k]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return k
    return -1


_REF = re.compile(r"\$\(\s*([A-Za-z_][A-Za-z0-9_.]*)")
_FUNC_ARGS = re.compile(r"\$[A-Za-z_]+\(([^()]*)")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
ANY = "*"
"""Returned by `references` when the names cannot be known without expanding
(a computed name such as `$(x$(y))`)."""


def references(text: str) -> set[str]:
    """Lower-case names `text` refers to directly (over-approximated), or {ANY}."""
    if "$" not in text:
        return set()
    names = {m.group(1).lower() for m in _REF.finditer(text)}
    for m in _FUNC_ARGS.finditer(text):
        names.update(w.lower() for w in _WORD.findall(m.group(1)))
    if re.search(r"\$\([^()]*\$", text):
        names.add(ANY)
    return names


def closure(names: set[str], table: MacroTable) -> set[str]:
    """`names` plus every name reachable through the table's definitions."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        raw = table.values.get(name)
        if raw is not None:
            todo.extend(references(raw) - seen)
    return seen


def substitute_self(raw: str, name: str, previous: str | None) -> str:
    """A definition that refers to its own name sees the previous value
    (`PATH = $(PATH):/extra`), as in HTCondor; other references are untouched."""
    pattern = re.compile(r"\$\(\s*" + re.escape(name) + r"\s*(?::([^()]*))?\)", re.IGNORECASE)
    if not pattern.search(raw):
        return raw

    def replace(m: re.Match[str]) -> str:
        return previous if previous is not None else (m.group(1) or "")

    return pattern.sub(replace, raw)
