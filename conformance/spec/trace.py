"""Traces: the hook events of a run, and a readable diff between an expected and an actual one.

Pure Python, shared by the recorder (``conformance.kit.recording``, which fills a :class:`Trace`
from a live run), the executable spec's tests and the clauses' assertion messages.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Sequence
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


def owner_of(line: str) -> str:
    """``"CB0"`` for ``"CB0.on_fit_start()"``."""
    return line.partition(".")[0]


def hook_of(line: str) -> str:
    """``"on_fit_start"`` for ``"CB0.on_fit_start()"``."""
    return line.partition(".")[2].partition("(")[0]


def project(
    events: Iterable[str],
    hooks: Iterable[str] | None = None,
    owners: Iterable[str] | None = None,
) -> list[str]:
    """The events of the given hooks (and owners), in order: what one rule is about."""
    hook_set = None if hooks is None else set(hooks)
    owner_set = None if owners is None else set(owners)
    return [
        line
        for line in events
        if (hook_set is None or hook_of(line) in hook_set)
        and (owner_set is None or owner_of(line) in owner_set)
    ]


def assert_same_order(
    expected: Iterable[str],
    actual: Iterable[str],
    rule: str,
    *,
    hooks: Iterable[str] | None = None,
    owners: Iterable[str] | None = None,
) -> None:
    """Assert two traces agree on ``hooks`` / ``owners``; the message states ``rule`` and diffs."""
    hooks = None if hooks is None else tuple(hooks)
    owners = None if owners is None else tuple(owners)
    want, got = project(expected, hooks, owners), project(actual, hooks, owners)
    if want != got:
        scope = f"\n(events of {', '.join(hooks)})" if hooks else ""
        raise AssertionError(f"{rule}{scope}\n{trace_diff(want, got)}")


def callbacks_first_breaches(
    events: list[str], callbacks: Sequence[str], hooks: Collection[str], module: str = "M"
) -> list[str]:
    """Where ``events`` break "all callbacks, in order, then the module" for the given hooks.

    Each module event of one of ``hooks`` must be immediately preceded by the same call on every
    callback, in ``callbacks`` order; and every callback event of those hooks must belong to such a
    group. Returns one readable line per breach (empty when the rule holds).
    """
    breaches, grouped = [], set()
    width = len(callbacks)
    for index, line in enumerate(events):
        if owner_of(line) != module or hook_of(line) not in hooks:
            continue
        call = line.partition(".")[2]
        want = [f"{name}.{call}" for name in callbacks]
        got = events[max(0, index - width) : index]
        if got == want:
            grouped.update(range(index - width, index))
        else:
            breaches.append(f"#{index} {line}: preceded by {got}, expected {want}")
    for index, line in enumerate(events):
        if owner_of(line) in callbacks and hook_of(line) in hooks and index not in grouped:
            breaches.append(f"#{index} {line}: not followed by the module's call as a group")
    return breaches
