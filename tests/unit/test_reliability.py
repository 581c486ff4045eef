"""The shared reliability recorder: figures per category, failed cases listed, exceptions counted as failures."""

from __future__ import annotations

import pytest

from tests.reliability import ReliabilityLog


def test_figures_count_survived_and_tried_per_category() -> None:
    log = ReliabilityLog()
    assert log("kill", "create@flush", True)
    assert not log("kill", "restore@import", False)
    log("fault", "create 5xx", True, count=7)
    log("fault", "restore truncated", False, count=3)

    assert log.figures() == {"kill": (1, 2), "fault": (7, 10)}
    lines = log.summary_lines()
    assert lines[0].startswith("kills survived / tried") and lines[0].endswith("1 / 2")
    assert lines[1].endswith("7 / 10")
    assert "  failed: kill: restore@import" in lines
    assert "  failed: fault: restore truncated" in lines


def test_case_records_an_exception_as_a_failure_and_reraises() -> None:
    log = ReliabilityLog()
    with log.case("bad_input", "empty name"):
        pass
    with pytest.raises(AssertionError), log.case("bad_input", "a:b:c"):
        raise AssertionError("accepted")
    assert log.figures() == {"bad_input": (1, 2)}


def test_unknown_category_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown reliability category"):
        ReliabilityLog()("typo", "x", True)


def test_fixture_is_the_session_log(reliability_record: ReliabilityLog) -> None:
    from tests import reliability

    assert reliability_record is reliability.LOG
