"""``PassThroughProfiler``: the profiler that records nothing (the Trainer's default)."""

from __future__ import annotations

from reference.profilers.profiler import Profiler


class PassThroughProfiler(Profiler):
    """Records nothing: ``trainer.profiler`` when no profiling was asked for, so code that
    wraps its own work in ``trainer.profiler.profile(...)`` runs unchanged."""

    def start(self, action_name: str) -> None:
        pass

    def stop(self, action_name: str) -> None:
        pass
