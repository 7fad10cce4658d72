"""Quantities with unit suffixes, as `request_memory` and `request_disk` take.

`64M`, `1.5 GB`, `4T`, `100`: a number and an optional K/KB/M/MB/G/GB/T/TB/P/PB
(or B for bytes) suffix, case-insensitive, powers of 1024. A bare number is in
the command's default unit: MiB for memory, KiB for disk, as in HTCondor. The
result is rounded up to a whole default unit. Text that is not such a
quantity is returned as None so the caller can treat it as a ClassAd
expression (`request_memory = ifThenElse(...)`), as condor_submit does.
"""

from __future__ import annotations

import math
import re

KIB = 1024
MIB = 1024 * 1024

_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([KMGTP]?)(B?)\s*$", re.IGNORECASE)
_POWER = {"": None, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5}


def parse_quantity(text: str, default_unit: int) -> int | None:
    """The quantity in multiples of `default_unit` bytes, or None when `text`
    is not a number with an optional unit."""
    m = _QUANTITY.match(text)
    if not m:
        return None
    number = float(m.group(1))
    letter = m.group(2).upper()
    if letter:
        scale = 1024 ** _POWER[letter]  # type: ignore[operator]
    elif m.group(3):
        scale = 1
    else:
        scale = default_unit
    return math.ceil(number * scale / default_unit)
