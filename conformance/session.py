"""Per-process session state, and preparing a clause session: the target, its deviations and
the hypothesis profile, each loaded once; any failure is one ``pytest.UsageError``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from conformance.deviations import DeviationsError, DeviationsFile, load_deviations
from conformance.outcomes import ClauseTimeout
from conformance.target import (
    Target,
    TargetLoadError,
    load_target,
    resolve_spec,
    start_xla_runtime,
)
from conformance.timeouts import time_limit

_STATE = pytest.StashKey["SessionState"]()
NO_DEVIATIONS = "none"  # --trainspec-deviations none: certify without any declared deviation


@dataclass
class SessionState:
    """What the plugin knows about this session (one per pytest process)."""

    started: float = field(default_factory=time.time)
    target: Target | None = None
    # no declared deviation until prepare() reads the target's file
    deviations: DeviationsFile = field(default_factory=lambda: DeviationsFile(path=None))
    hypothesis: dict[str, Any] = field(default_factory=dict)
    prefixes: list[str] = field(default_factory=list)
    # The catalogue: nodeid -> {"clause", "params", "param_id", "deviation"} for every selected
    # clause test, the clauses' metadata, deviations-file problems, prefixes matching nothing.
    cells: dict[str, dict[str, Any]] = field(default_factory=dict)
    clauses: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    # nodeid -> phase outcomes, in the order they were reported
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    certificate: dict[str, Any] | None = None

    def catalogue(self) -> dict[str, Any]:
        return {
            "cells": self.cells,
            "clauses": self.clauses,
            "problems": self.problems,
            "unmatched": self.unmatched,
        }

    def merge_catalogue(self, catalogue: dict[str, Any]) -> None:
        self.cells.update(catalogue.get("cells", {}))
        self.clauses.update(catalogue.get("clauses", {}))
        for problem in catalogue.get("problems", []):
            if problem not in self.problems:
                self.problems.append(problem)
        self.unmatched = list(catalogue.get("unmatched", self.unmatched))


def state_of(config: pytest.Config) -> SessionState:
    """This process's session state (created on first use)."""
    if _STATE not in config.stash:
        config.stash[_STATE] = SessionState()
    return config.stash[_STATE]


def activate_hypothesis_profile(config: pytest.Config) -> None:
    """Load ``--trainspec-hypothesis-profile`` (default ``trainspec-certify``) before clause
    modules are imported, unless the user chose one with ``--hypothesis-profile``."""
    from conformance import hypothesis_profiles

    chosen = config.getoption("trainspec_hypothesis_profile")
    if not chosen and config.getoption("hypothesis_profile", None):
        # The user picked a profile with hypothesis' own option: respect it.
        state_of(config).hypothesis = hypothesis_profiles.active()
        return
    try:
        hypothesis_profiles.activate(chosen or hypothesis_profiles.CERTIFY)
    except Exception as exc:  # hypothesis raises InvalidArgument for an unknown profile
        raise pytest.UsageError(f"trainspec: hypothesis profile {chosen!r}: {exc}") from exc
    state_of(config).hypothesis = hypothesis_profiles.active()


def prepare(config: pytest.Config) -> Target:
    """Load the target and its deviations once per process; a failure is one usage error."""
    state = state_of(config)
    if state.target is not None:
        return state.target
    spec = resolve_spec(config.getoption("trainspec_target"))
    start_xla_runtime()  # before the target is imported or any clause trains on the CPU
    limit = config.getoption("trainspec_timeout")
    try:
        # A target whose import hangs must not hang the run: it gets the clause timeout.
        with time_limit(limit, f"importing target {spec!r}"):
            target = load_target(spec)
    except (TargetLoadError, ClauseTimeout) as exc:
        raise pytest.UsageError(f"trainspec: {exc}") from exc
    override = config.getoption("trainspec_deviations")
    try:
        if override == NO_DEVIATIONS:
            deviations = DeviationsFile(path=None)
        else:
            deviations = load_deviations(override or target.deviations_path)
    except DeviationsError as exc:
        raise pytest.UsageError(f"trainspec: {exc}") from exc
    state.target, state.deviations = target, deviations
    if not state.hypothesis:
        from conformance import hypothesis_profiles

        state.hypothesis = hypothesis_profiles.active()
    return target
