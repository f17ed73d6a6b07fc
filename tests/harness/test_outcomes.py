"""Status classification: pytest's outcomes and exceptions → clause statuses."""

from __future__ import annotations

import builtins

import pytest

from conformance.outcomes import (
    aggregate,
    classify_exception,
    exception_message,
    item_outcome,
    phase_outcome,
    skip_reason,
)


def _raised(func) -> BaseException:
    try:
        func()
    except BaseException as exc:  # noqa: BLE001 - we want whatever it raised
        return exc
    raise AssertionError("did not raise")


def _did_not_raise() -> None:
    with pytest.raises(ValueError):
        pass


def test_a_clause_check_failing_is_failed() -> None:
    assert classify_exception(AssertionError("x")) == "failed"
    assert classify_exception(_raised(lambda: pytest.fail("expected 1, got 2"))) == "failed"
    assert classify_exception(_raised(_did_not_raise)) == "failed"


def test_anything_else_is_errored() -> None:
    assert classify_exception(RuntimeError("target crashed")) == "errored"
    assert classify_exception(TypeError("bad hook signature")) == "errored"
    assert classify_exception(KeyboardInterrupt()) == "errored"
    timeout = _raised(lambda: pytest.fail("Timeout (>2.0s) from pytest-timeout."))
    assert classify_exception(timeout) == "errored"
    assert exception_message(timeout) == "timed out: Timeout (>2.0s) from pytest-timeout."


@pytest.mark.skipif(not hasattr(builtins, "ExceptionGroup"), reason="Python 3.11+")
def test_exception_groups_are_failed_only_if_every_member_is() -> None:
    group = builtins.ExceptionGroup  # type: ignore[attr-defined]
    assert classify_exception(group("two", [AssertionError("a"), AssertionError("b")])) == "failed"
    mixed = group("two", [AssertionError("a"), ValueError("b")])
    assert classify_exception(mixed) == "errored"
    assert exception_message(mixed).startswith("2 distinct failures; first: a")


def test_messages_are_one_line_and_name_non_assertion_exceptions() -> None:
    assert exception_message(AssertionError("expected 3\nassert 2 == 3")) == "expected 3"
    assert exception_message(AssertionError()) == "AssertionError"
    assert exception_message(ValueError("bad value")) == "ValueError: bad value"
    assert len(exception_message(RuntimeError("x" * 1000))) <= 300


def test_the_falsifying_example_is_part_of_the_message() -> None:
    exc = AssertionError("expected fewer than 3")
    exc.add_note("Failing test case: test_prop(\n    n=3,\n)")
    assert exception_message(exc) == "expected fewer than 3 [Failing test case: test_prop(n=3)]"


def test_skips_are_not_run_with_their_reason() -> None:
    phase = phase_outcome("setup", "skipped", False, None, ("f.py", 3, "Skipped: no cuda device"))
    assert phase == {"status": "not_run", "message": "no cuda device"}
    assert skip_reason("Skipped: x") == "x"


def test_declared_deviations_keep_what_really_happened() -> None:
    failed = phase_outcome("call", "skipped", True, AssertionError("off by one"), None)
    assert failed == {"status": "deviation", "message": "off by one", "underlying": "failed"}
    errored = phase_outcome("call", "skipped", True, RuntimeError("boom"), None)
    assert errored["underlying"] == "errored"
    stale = phase_outcome("call", "passed", True, None, None)
    assert stale == {"status": "passed", "message": "", "stale": True}


def test_setup_and_teardown_errors_are_errored_even_for_assertions() -> None:
    phase = phase_outcome("setup", "failed", False, AssertionError("in a fixture"), "...")
    assert phase["status"] == "errored"
    assert phase["message"] == "error in setup: in a fixture"


def test_the_first_phase_that_did_not_pass_decides() -> None:
    ok = {"status": "passed", "message": ""}
    failed = {"status": "failed", "message": "m"}
    errored = {"status": "errored", "message": "t"}
    assert item_outcome([ok, failed, errored])["status"] == "failed"
    assert item_outcome([ok, ok, errored])["status"] == "errored"
    skipped = {"status": "not_run", "message": "no gpu"}
    assert item_outcome([skipped, ok]) == skipped
    assert item_outcome([ok, {"status": "passed", "message": "", "stale": True}, ok])["stale"]
    assert item_outcome([])["status"] == "errored"


def test_a_clause_aggregates_its_parameter_sets() -> None:
    assert aggregate(["passed", "not_run"]) == "passed"
    assert aggregate(["not_run", "not_run"]) == "not_run"
    assert aggregate(["passed", "errored", "failed"]) == "failed"
    assert aggregate(["passed", "errored"]) == "errored"
    assert aggregate(["passed", "deviation"]) == "deviation"
    assert aggregate([]) == "not_run"


def test_a_first_line_that_introduces_details_keeps_the_first_detail() -> None:
    # Clauses list their findings under a heading ("a truncated file:"); the heading alone says
    # nothing in the certificate's one-line message.
    message = "a truncated file:\n  RuntimeError: PytorchStreamReader failed\n  more\nassert 0"
    assert exception_message(AssertionError(message)) == (
        "a truncated file: RuntimeError: PytorchStreamReader failed"
    )
    assert exception_message(ValueError("one of:\n  a\n  b")) == "ValueError: one of: a"
    assert exception_message(AssertionError("ends here:")) == "ends here:"
