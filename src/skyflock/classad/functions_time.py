"""Built-in time formatting functions that need no clock: formatTime(t, fmt) and interval.

Part of `BUILTINS` (assembled in `functions.py`). The ClassAd package reads no
clock, so `formatTime` needs its time argument: `formatTime()` and
`formatTime("%Y")` (which HTCondor evaluates at the current time) are ERROR
here. Times are formatted in UTC, where HTCondor uses the machine's local
zone; on a machine running in UTC the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

from skyflock.classad.functions_convert import Builtin, fn_int
from skyflock.classad.values import ERROR, Value

_DEFAULT_FORMAT: Final = "%c"


def fn_format_time(*args: Value) -> Value:
    if not 1 <= len(args) <= 2:
        return ERROR
    when = args[0]
    if type(when) is float:
        when = int(when)
    if type(when) is not int:
        return ERROR
    fmt = args[1] if len(args) == 2 else _DEFAULT_FORMAT
    if type(fmt) is not str:
        return ERROR
    try:
        return datetime.fromtimestamp(when, tz=UTC).strftime(fmt)
    except (OverflowError, OSError, ValueError):
        return ERROR


def format_interval(seconds: int) -> str:
    """`days+hh:mm:ss` with leading zero fields left out (67 is `1:07`)."""
    sign = "-" if seconds < 0 else ""
    rest = abs(seconds)
    days, rest = divmod(rest, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}+{hours:02}:{minutes:02}:{secs:02}"
    if hours:
        return f"{sign}{hours}:{minutes:02}:{secs:02}"
    if minutes:
        return f"{sign}{minutes}:{secs:02}"
    return f"{sign}{secs}"


def fn_interval(*args: Value) -> Value:
    if len(args) != 1:
        return ERROR
    seconds = fn_int(args[0])
    if type(seconds) is not int:
        return ERROR
    # HTCondor keeps the count in a 32-bit int.
    return format_interval(((seconds + (1 << 31)) & 0xFFFFFFFF) - (1 << 31))


TIME: Final[Mapping[str, Builtin]] = {
    "formattime": fn_format_time,
    "interval": fn_interval,
}
