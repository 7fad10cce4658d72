"""`ClassAd.tables()`: the read-only (expressions, constants) view that
`core.autocluster` reads when it groups many ads."""

from __future__ import annotations

import pytest

from skyflock.classad import ClassAd, parse
from skyflock.classad.ad import tables_of
from skyflock.core.autocluster import attribute_table, classad_tables, constant_table

CASES = [
    # (attributes set, expected expression names, expected constants)
    ({"Cpus": 4, "Memory": 2048}, {"cpus", "memory"}, {"cpus": 4, "memory": 2048}),
    (
        {"Owner": "alice", "Requirements": parse("Memory > 10")},
        {"owner", "requirements"},
        {"owner": "alice"},
    ),
    ({"A": parse("1 + 1"), "B": parse("true")}, {"a", "b"}, {"b": True}),
    ({}, set(), {}),
]


@pytest.mark.parametrize(("attrs", "names", "consts"), CASES)
def test_tables_hold_lowercase_names_and_literal_values(
    attrs: dict[str, object], names: set[str], consts: dict[str, object]
) -> None:
    ad = ClassAd(attrs)
    exprs, values = ad.tables()
    assert set(exprs) == names
    assert dict(values) == consts
    for name in names:
        assert exprs[name] is ad.lookup(name)


def test_tables_follow_changes_to_the_ad() -> None:
    ad = ClassAd({"Cpus": 1})
    exprs, values = ad.tables()
    ad["Cpus"] = parse("TotalCpus / 2")
    ad["Disk"] = 100
    assert "cpus" not in values
    assert values["disk"] == 100
    assert str(exprs["cpus"]) == str(parse("TotalCpus / 2"))
    del ad["Disk"]
    assert "disk" not in exprs and "disk" not in values


def test_core_reads_the_same_tables() -> None:
    ads = [ClassAd({"X": 1}), ClassAd({"Y": parse("X + 1")})]
    for ad, (exprs, values) in zip(ads, classad_tables(ads), strict=True):
        assert (exprs, values) == ad.tables() == tables_of(ad)
        assert attribute_table(ad) is exprs
        assert constant_table(ad) is values
