"""The promotion ledger and rollback, in a real sqlite MLflow."""

from __future__ import annotations

import pytest

from registry.ledger import (
    LEDGER_EXPERIMENT,
    champion_history,
    get_alias,
    move_alias,
    read_ledger,
    read_report,
    record_decision,
    rollback,
)
from registry.store import ensure_experiment, session

pytestmark = pytest.mark.integration
M = "percept-detector"


def test_move_alias_writes_an_entry_per_move_newest_first(registry_home, add_version):
    add_version(hota=30.0)
    add_version(hota=32.0)
    assert get_alias(M, "champion") is None
    first = move_alias(M, "champion", 1, actor="ann@box", reason="first model", report={"k": 1})
    second = move_alias(M, "champion", 2, actor="ann@box", reason="better", report={"k": 2})
    assert get_alias(M, "champion") == 2
    assert (first.from_version, first.to_version, first.moved) == (None, 1, True)
    assert (second.from_version, second.to_version) == (1, 2)
    entries = read_ledger(M)
    assert [e.run_id for e in entries] == [second.run_id, first.run_id]
    assert entries[0].actor == "ann@box" and entries[0].reason == "better" and entries[0].action == "move"
    assert read_report(first.run_id) == {"k": 1}
    with session() as c:  # readable in the MLflow UI: the summary is the run's description
        run = c.get_run(second.run_id)
    assert run.data.tags["mlflow.note.content"] == second.summary
    assert run.info.status == "FINISHED"


def test_record_decision_keeps_the_alias(registry_home, add_version):
    add_version(hota=30.0)
    add_version(hota=30.1)
    move_alias(M, "champion", 1, actor="t", reason="first")
    entry = record_decision(M, "champion", 2, actor="t", reason="too small a gain",
                            summary="challenger v2 not promoted: HOTA +0.1 < margin 1.0")
    assert get_alias(M, "champion") == 1
    assert (entry.moved, entry.from_version, entry.to_version, entry.action) == (False, 1, 2, "gate")
    assert read_ledger(M)[0].summary == "challenger v2 not promoted: HOTA +0.1 < margin 1.0"


@pytest.mark.parametrize(
    "version, kwargs, match",
    [
        (9, {}, "no version 9"),
        (1, {"actor": ""}, "actor"),
        (1, {"reason": "  "}, "reason"),
        (1, {"action": "yolo"}, "action"),
        (1, {"alias": "o'clock"}, "quotes"),
    ],
)
def test_bad_moves_change_nothing(registry_home, add_version, version, kwargs, match):
    add_version(hota=30.0)
    args = {"actor": "t", "reason": "r", **kwargs}
    alias = args.pop("alias", "champion")
    with pytest.raises(ValueError, match=match):
        move_alias(M, alias, version, **args)
    assert get_alias(M, "champion") is None
    assert read_ledger(M) == []


def test_reading_ignores_unfinished_entries(registry_home, add_version):
    add_version(hota=30.0)
    done = move_alias(M, "champion", 1, actor="t", reason="r")
    tags = {
        "percept.model": M, "percept.alias": "champion", "percept.action": "move", "percept.moved": "true",
        "percept.from_version": "1", "percept.to_version": "1", "percept.actor": "t",
        "percept.reason": "r", "percept.summary": "s", "percept.time_ns": "9" * 19,
    }
    with session() as c:
        exp = ensure_experiment(LEDGER_EXPERIMENT, mlflow_client=c)
        c.create_run(exp, tags=tags)  # stays RUNNING, as after a crash mid-move
        c.set_terminated(c.create_run(exp, tags=tags).info.run_id, "FAILED")
    assert [e.run_id for e in read_ledger(M)] == [done.run_id]


def test_ledger_of_unknown_model_is_empty(registry_home):
    assert read_ledger("nobody") == []
    assert get_alias("nobody", "champion") is None


@pytest.mark.parametrize(
    "promotions, after_rollbacks",
    [
        ([], [ValueError]),
        ([1], [ValueError]),
        ([1, 2], [1, ValueError]),
        ([1, 2, 3], [2, 1, ValueError]),  # rolling back twice goes two steps back
        ([1, 2, 1], [2, 1, ValueError]),
        ([1, 3, 2], [3, 1, ValueError]),
    ],
)
def test_rollback_walks_back_the_champion_history(registry_home, add_version, promotions, after_rollbacks):
    for _ in range(3):
        add_version(hota=30.0)
    for v in promotions:
        move_alias(M, "champion", v, actor="t", reason=f"to v{v}", action="promote")
    for expected in after_rollbacks:
        before = get_alias(M, "champion")
        if expected is ValueError:
            with pytest.raises(ValueError, match="nothing to roll back to"):
                rollback(M, actor="ops@box", reason="regression in the field")
            assert get_alias(M, "champion") == before
        else:
            entry = rollback(M, actor="ops@box", reason="regression in the field")
            assert get_alias(M, "champion") == expected
            assert (entry.action, entry.from_version, entry.to_version) == ("rollback", before, expected)


def test_rollback_after_a_new_promotion_targets_the_previous_champion(registry_home, add_version):
    for _ in range(3):
        add_version(hota=30.0)
    for v in (1, 2):
        move_alias(M, "champion", v, actor="t", reason="r")
    rollback(M, actor="t", reason="bad v2")
    move_alias(M, "champion", 3, actor="t", reason="r")
    assert champion_history(M) == [1, 3]
    rollback(M, actor="t", reason="bad v3")
    assert get_alias(M, "champion") == 1


def test_champion_set_before_the_ledger_is_a_rollback_target(registry_home, add_version):
    add_version(hota=30.0)
    add_version(hota=31.0)
    with session() as c:
        c.set_registered_model_alias(M, "champion", "1")  # moved outside percept
    move_alias(M, "champion", 2, actor="t", reason="r")
    assert rollback(M, actor="t", reason="r").to_version == 1
