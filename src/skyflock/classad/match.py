"""Matchmaking between two ads: both Requirements, and Rank.

`symmetric_match(a, b)` is true when a's Requirements is true with a as MY and
b as TARGET, and b's Requirements is true the other way round; as in
HTCondor, a non-zero number counts as true, and a missing Requirements is
UNDEFINED and so does not match. `rank_of(ad, target)` is ad's Rank against
target as a float, 0.0 when it is not a number. The negotiator (`core`) calls
these millions of times, so both go through the compiled attribute code that
`runtime` caches on each ad.
"""

from __future__ import annotations

from skyflock.classad import operators, runtime
from skyflock.classad.ad import ClassAd


def requirements_met(ad: ClassAd, target: ClassAd | None) -> bool:
    """Whether `ad`'s Requirements evaluates to true against `target`."""
    if "requirements" not in ad._exprs:
        return False
    value = runtime.eval_attr(ad, "requirements", ad, target, None)
    return value is True or operators.condition(value) is True


def symmetric_match(a: ClassAd, b: ClassAd) -> bool:
    """Both Requirements true: a's against b and b's against a."""
    return requirements_met(a, b) and requirements_met(b, a)


def rank_of(ad: ClassAd, target: ClassAd | None) -> float:
    """`ad`'s Rank against `target`; anything but a number (or boolean) gives 0.0."""
    if "rank" not in ad._exprs:
        return 0.0
    value = runtime.eval_attr(ad, "rank", ad, target, None)
    if type(value) is int or type(value) is float:
        return float(value)
    if type(value) is bool:
        return 1.0 if value else 0.0
    return 0.0
