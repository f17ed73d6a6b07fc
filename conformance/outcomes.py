"""Clause statuses, derived from pytest's own outcomes.

- ``passed``: the test passed.
- ``failed``: the clause's own check failed: an ``AssertionError`` or a ``pytest.fail`` (which is
  also how ``pytest.raises`` reports that nothing was raised).
- ``errored``: anything else: an exception from the target or the harness, an error in a fixture,
  a timeout, a crashed test process.
- ``deviation``: failed or errored, but declared in the target's deviations file (the plugin marks
  such tests ``xfail(strict=False)``, so pytest reports them as xfailed).
- ``not_run``: skipped (hardware absent, profile not applicable...), never counted as passed.

This module is pure: it turns exceptions and per-phase results into statuses and one-line
messages; the plugin feeds it.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from typing import Any

import pytest

STATUSES: tuple[str, ...] = ("passed", "failed", "errored", "deviation", "not_run")
# When results of one clause disagree (several parameter sets), the first of these wins: a breach
# outranks a crash (both are fatal, the breach is more informative), both outrank a declared
# deviation, and not_run only stands when nothing ran.
PRECEDENCE: tuple[str, ...] = ("failed", "errored", "deviation", "passed", "not_run")

TIMEOUT_MARK = "from pytest-timeout"  # pytest-timeout's failure message ends with this
MESSAGE_LIMIT = 300
# Python 3.11+ (hypothesis raises one when it finds several distinct failures); () never matches.
_EXCEPTION_GROUP: Any = getattr(builtins, "BaseExceptionGroup", ())


def _first_line(text: str) -> str:
    """The first non-empty line; one that introduces details ("...did not:") gets the first."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    summary = lines[0]
    for line in lines[1:]:
        if not summary.endswith(":"):
            break
        summary = f"{summary} {line}"
    return summary


def shorten(text: str, limit: int = MESSAGE_LIMIT) -> str:
    text = " ".join(text.split()) if "\n" not in text else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ClauseTimeout(BaseException):
    """A clause ran past its timeout (raised by :mod:`conformance.timeouts`). A ``BaseException``,
    so that neither hypothesis nor a target's ``except Exception`` swallows it."""


def is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, ClauseTimeout):
        return True
    return isinstance(exc, pytest.fail.Exception) and TIMEOUT_MARK in str(exc)


def classify_exception(exc: BaseException) -> str:
    """``failed`` for the clause's own checks, ``errored`` for everything else."""
    if is_timeout(exc):
        return "errored"
    if isinstance(exc, AssertionError | pytest.fail.Exception):
        return "failed"
    if isinstance(exc, _EXCEPTION_GROUP):  # e.g. hypothesis found several distinct failures
        kinds = {classify_exception(inner) for inner in exc.exceptions}
        return "failed" if kinds == {"failed"} else "errored"
    return "errored"


# How hypothesis introduces the example it shrank to (the wording changed across versions).
_EXAMPLE_NOTES = ("Failing test case", "Falsifying example")


def _falsifying_example(exc: BaseException) -> str:
    for note in getattr(exc, "__notes__", ()) or ():
        if note.startswith(_EXAMPLE_NOTES):
            return " ".join(note.split()).replace("( ", "(").replace(", )", ")")
    return ""


def exception_message(exc: BaseException) -> str:
    """One readable line: what failed and, for hypothesis, on which example."""
    if is_timeout(exc):
        return "timed out: " + _first_line(str(exc))
    if isinstance(exc, _EXCEPTION_GROUP):
        first = exception_message(exc.exceptions[0]) if exc.exceptions else ""
        return f"{len(exc.exceptions)} distinct failures; first: {first}"
    text = _first_line(str(exc))
    if isinstance(exc, AssertionError | pytest.fail.Exception):
        message = text or type(exc).__name__
    else:
        message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    example = _falsifying_example(exc)
    if example:
        message = f"{message} [{example}]"
    return shorten(message)


def skip_reason(longrepr: Any) -> str:
    """The reason of a skip report (pytest stores ``(path, line, 'Skipped: reason')``)."""
    if isinstance(longrepr, tuple | list) and len(longrepr) == 3:
        text = str(longrepr[2])
    else:
        text = str(longrepr or "")
    for prefix in ("Skipped: ", "SKIP "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return shorten(_first_line(text) or "skipped")


def phase_outcome(
    when: str, outcome: str, wasxfail: bool, excinfo_value: BaseException | None, longrepr: Any
) -> dict[str, Any]:
    """The status of one phase (setup/call/teardown) of a clause test.

    ``outcome`` is pytest's final one (after its xfail handling); ``excinfo_value`` the exception
    the phase raised, if any. Setup and teardown errors are ``errored`` whatever they raised:
    pytest itself reports them as errors, not failures.
    """
    if outcome == "passed":
        # A declared deviation that passed: pytest reports XPASS; the declaration is stale.
        return {"status": "passed", "message": "", "stale": wasxfail}
    if outcome == "skipped" and wasxfail:
        underlying = (
            "errored"
            if when != "call" or excinfo_value is None
            else classify_exception(excinfo_value)
        )
        message = exception_message(excinfo_value) if excinfo_value is not None else ""
        return {"status": "deviation", "message": message, "underlying": underlying}
    if outcome == "skipped":
        return {"status": "not_run", "message": skip_reason(longrepr)}
    if excinfo_value is None:
        return {"status": "errored", "message": shorten(_first_line(str(longrepr)))}
    status = classify_exception(excinfo_value) if when == "call" else "errored"
    message = exception_message(excinfo_value)
    if when != "call":
        message = f"error in {when}: {message}"
    return {"status": status, "message": message}


def item_outcome(phases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Combine the phases of one test (in setup, call, teardown order) into its result.

    The first phase that did not pass decides (a failed check stays ``failed`` even if teardown
    then errors); a passing test whose call was declared a deviation is marked ``stale``.
    """
    if not phases:
        return {"status": "errored", "message": "no result was reported for this test"}
    result: dict[str, Any] = {"status": "passed", "message": ""}
    for phase in phases:
        if phase["status"] != "passed":
            result = dict(phase)
            break
    if result["status"] == "passed" and any(phase.get("stale") for phase in phases):
        result["stale"] = True
    return result


def aggregate(statuses: Iterable[str]) -> str:
    """One status for a clause from its per-parameter statuses."""
    present = set(statuses)
    for status in PRECEDENCE:
        if status in present:
            return status
    return "not_run"
