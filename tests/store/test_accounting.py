"""Fair-share state: usage saved by the manager, settings by userprio; neither
overwrites the other."""

from __future__ import annotations

import math

import pytest

from skyflock.core.model import AccountingState, SubmitterUsage
from skyflock.store import KEEP, Store, SubmitterSettings


def test_empty_store_has_empty_state(store: Store) -> None:
    assert store.accounting.load() == AccountingState(submitters={}, last_update=None)


def test_usage_round_trips_and_save_replaces(store: Store) -> None:
    state = AccountingState(
        submitters={
            "alice": SubmitterUsage(real_priority=12.5, accumulated_usage=3600.0),
            "atlas.bob": SubmitterUsage(real_priority=0.5, accumulated_usage=0.0),
        },
        last_update=1_700_000_000.25,
    )
    store.accounting.save(state)
    assert store.accounting.load() == state
    smaller = AccountingState({"alice": SubmitterUsage(20.0, 7200.0)}, 1_700_000_100.0)
    store.accounting.save(smaller)
    assert store.accounting.load() == smaller


def test_settings_survive_a_save_of_stale_state(store: Store) -> None:
    store.accounting.save(AccountingState({"alice": SubmitterUsage(3.0, 10.0)}, 5.0))
    stale = store.accounting.load()
    store.accounting.update_settings("alice", priority_factor=10.0, ceiling=8.0)
    store.accounting.save(stale)  # the manager saves what it loaded before userprio ran
    loaded = store.accounting.load().submitters["alice"]
    assert (loaded.real_priority, loaded.priority_factor, loaded.ceiling) == (3.0, 10.0, 8.0)


def test_settings_of_a_submitter_without_usage(store: Store) -> None:
    store.accounting.update_settings("carol", floor=1.0)
    assert store.accounting.load().submitters["carol"] == SubmitterUsage(floor=1.0)


def test_update_settings_changes_only_what_is_given(store: Store) -> None:
    acc = store.accounting
    assert acc.update_settings("dave", priority_factor=100.0, floor=2.0) == SubmitterSettings(
        100.0, 2.0, None
    )
    assert acc.update_settings("dave", ceiling=50.0) == SubmitterSettings(100.0, 2.0, 50.0)
    assert acc.update_settings("dave", floor=None, priority_factor=KEEP) == SubmitterSettings(
        100.0, None, 50.0
    )
    assert acc.settings() == {"dave": SubmitterSettings(100.0, None, 50.0)}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"priority_factor": -1.0}, "priority_factor: must not be negative"),
        ({"priority_factor": 0.0}, "priority_factor: must be greater than 0"),
        ({"floor": math.inf}, "floor: expected a finite number"),
        ({"ceiling": "high"}, "ceiling: expected a finite number"),
        ({"floor": 5.0, "ceiling": 2.0}, r"floor \(5\) must not exceed ceiling \(2\)"),
    ],
)
def test_bad_settings_are_refused_and_change_nothing(
    store: Store,
    kwargs: dict,
    message: str,  # type: ignore[type-arg]
) -> None:
    with pytest.raises(ValueError, match=message):
        store.accounting.update_settings("erin", **kwargs)
    assert store.accounting.settings() == {}
