"""Profilers. The reference trainer profiles nothing: ``trainer.profiler`` is a
:class:`PassThroughProfiler`, there so that code calling it runs as under Lightning."""

from reference.profilers.base import PassThroughProfiler
from reference.profilers.profiler import Profiler

__all__ = ["PassThroughProfiler", "Profiler"]
