"""The table of built-in ClassAd functions the evaluator calls by (lower-case) name.

Each entry takes already-evaluated argument values, positionally, and returns
a value; a wrong number or type of arguments gives ERROR, as in HTCondor. The
functions live in one module per family:

* `functions_convert` – isUndefined/isError/isString/..., int, real, string, bool
* `functions_strings` – strcat, join, split, substr, strcmp, stricmp, toUpper,
  toLower, size, splitUserName, splitSlotName, versioncmp and friends
* `functions_math` – floor, ceiling, round, pow, quantize, sum, avg, min, max,
  member, identicalMember, anyCompare, allCompare
* `functions_stringlists` – stringListSize/Sum/Avg/Min/Max/Member/IMember,
  stringListsIntersect, stringListSubsetMatch, stringListISubsetMatch
* `functions_regex` – regexp, regexps, replace, replaceall, regexpMember,
  stringList_regexpMember
* `functions_time` – formatTime (with a time argument), interval

Functions that need the evaluation context or lazy arguments (ifThenElse,
eval, unparse, time, random) are the evaluator's, not in this table. An
unknown name is not here either: the evaluator turns it into ERROR.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from skyflock.classad.functions_convert import CONVERT, Builtin
from skyflock.classad.functions_math import MATH
from skyflock.classad.functions_regex import REGEX
from skyflock.classad.functions_stringlists import STRING_LISTS
from skyflock.classad.functions_strings import STRINGS
from skyflock.classad.functions_time import TIME


def _assemble(*families: Mapping[str, Builtin]) -> Mapping[str, Builtin]:
    table: dict[str, Builtin] = {}
    for family in families:
        for name, fn in family.items():
            if name in table or name != name.lower():
                raise ValueError(f"built-in {name!r} is defined twice or not lower-case")
            table[name] = fn
    return MappingProxyType(table)


BUILTINS: Final[Mapping[str, Builtin]] = _assemble(
    CONVERT, STRINGS, MATH, STRING_LISTS, REGEX, TIME
)

__all__ = ["BUILTINS", "Builtin"]
