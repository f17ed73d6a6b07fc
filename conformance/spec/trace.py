"""Traces: the hook events of a run, and a readable diff between an expected and an actual one.

Pure Python, shared by the recorder (``conformance.kit.recording``, which fills a :class:`Trace`
from a live run), the executable spec's tests and the clauses' assertion messages.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class Trace:
    """The hook events of one or more runs, in call-entry order."""

    events: list[str] = field(default_factory=list)

    def record(self, line: str) -> None:
        self.events.append(line)

    def clear(self) -> None:
        self.events.clear()

    def of(self, *owners: str) -> list[str]:
        """The events of the given owners (``"M"``, ``"CB0"``, ``"DM"``), in order."""
        return [line for line in self.events if line.partition(".")[0] in owners]

    def __len__(self) -> int:
        return len(self.events)


def trace_diff(
    expected: Iterable[str],
    actual: Iterable[str],
    *,
    context: int = 4,
    max_lines: int = 120,
    expected_name: str = "expected (spec)",
    actual_name: str = "actual (target)",
) -> str:
    """A unified diff of two traces, headed by the first event where they part."""
    expected, actual = list(expected), list(actual)
    if expected == actual:
        return "traces are equal"
    first = next(
        (i for i, (e, a) in enumerate(zip(expected, actual)) if e != a),
        min(len(expected), len(actual)),
    )
    want = expected[first] if first < len(expected) else "<end of trace>"
    got = actual[first] if first < len(actual) else "<end of trace>"
    lines = list(
        difflib.unified_diff(
            expected, actual, fromfile=expected_name, tofile=actual_name, n=context, lineterm=""
        )
    )
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"... ({len(lines) - max_lines} more diff lines)"]
    header = (
        f"traces differ at event #{first}: expected {want!r}, got {got!r} "
        f"({len(expected)} expected events, {len(actual)} actual)"
    )
    return "\n".join([header, *lines])


