"""Loop progress counters: every count the loops keep, each with ``state_dict``/``load_state_dict``.

The shapes follow Lightning's checkpoints (``{"total": {...}, "current": {...}}``), so that
checkpoints save and restore them as they are (``loop_state.py`` converts the layout). ``total``
never resets; ``current`` resets when its loop starts a new run (a new epoch for batch counters).
Plain classes with ``__slots__``: they are incremented several times per batch.
"""

from __future__ import annotations

from typing import Any


class ReadyCompleted:
    __slots__ = ("ready", "completed")

    def __init__(self) -> None:
        self.ready = self.completed = 0

    def reset(self) -> None:
        self.ready = self.completed = 0

    def reset_on_restart(self) -> None:
        self.ready = self.completed

    def state_dict(self) -> dict[str, int]:
        return {"ready": self.ready, "completed": self.completed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ready, self.completed = state["ready"], state["completed"]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.state_dict()})"


class StartedProcessed(ReadyCompleted):
    """``ready`` → ``started`` → ``processed`` → ``completed``, one step of a loop at a time."""

    __slots__ = ("started", "processed")

    def __init__(self) -> None:
        super().__init__()
        self.started = self.processed = 0

    def reset(self) -> None:
        self.ready = self.started = self.processed = self.completed = 0

    def reset_on_restart(self) -> None:
        self.ready = self.started = self.processed = self.completed

    def state_dict(self) -> dict[str, int]:
        return {
            "ready": self.ready,
            "started": self.started,
            "processed": self.processed,
            "completed": self.completed,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.started, self.processed = state["started"], state["processed"]


class Progress:
    """A ``total`` and a ``current`` tracker, incremented together."""

    __slots__ = ("total", "current")

    def __init__(self) -> None:
        self.total = StartedProcessed()
        self.current = StartedProcessed()

    def increment_ready(self) -> None:
        self.total.ready += 1
        self.current.ready += 1

    def increment_started(self) -> None:
        self.total.started += 1
        self.current.started += 1

    def increment_processed(self) -> None:
        self.total.processed += 1
        self.current.processed += 1

    def increment_completed(self) -> None:
        self.total.completed += 1
        self.current.completed += 1

    def reset(self) -> None:
        self.total.reset()
        self.current.reset()

    def reset_on_run(self) -> None:
        self.current.reset()

    def reset_on_restart(self) -> None:
        self.current.reset_on_restart()

    def state_dict(self) -> dict[str, Any]:
        return {"total": self.total.state_dict(), "current": self.current.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.total.load_state_dict(state["total"])
        self.current.load_state_dict(state["current"])


class BatchProgress(Progress):
    """Batch counters of one loop, plus whether the batch being processed is the last one."""

    __slots__ = ("is_last_batch",)

    def __init__(self) -> None:
        super().__init__()
        self.is_last_batch = False

    def reset(self) -> None:
        super().reset()
        self.is_last_batch = False

    def reset_on_run(self) -> None:
        super().reset_on_run()
        self.is_last_batch = False

    def increment_by(self, n: int, is_last_batch: bool = False) -> None:
        for tracker in (self.total, self.current):
            tracker.ready += n
            tracker.started += n
            tracker.processed += n
            tracker.completed += n
        self.is_last_batch = is_last_batch

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "is_last_batch": self.is_last_batch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.is_last_batch = state.get("is_last_batch", False)


class SchedulerProgress:
    """LR scheduler steps (``ready`` when decided, ``completed`` after ``lr_scheduler_step``);
    also optimizer steps."""

    __slots__ = ("total", "current")

    def __init__(self) -> None:
        self.total = ReadyCompleted()
        self.current = ReadyCompleted()

    def increment_ready(self) -> None:
        self.total.ready += 1
        self.current.ready += 1

    def increment_completed(self) -> None:
        self.total.completed += 1
        self.current.completed += 1

    def reset_on_run(self) -> None:
        self.current.reset()

    def state_dict(self) -> dict[str, Any]:
        return {"total": self.total.state_dict(), "current": self.current.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.total.load_state_dict(state["total"])
        self.current.load_state_dict(state["current"])


class OptimizerProgress:
    """Optimizer steps and zero_grad calls. ``step.total.completed`` is ``global_step``
    (automatic optimization)."""

    __slots__ = ("step", "zero_grad")

    def __init__(self) -> None:
        self.step = SchedulerProgress()
        self.zero_grad = Progress()

    @property
    def optimizer_steps(self) -> int:
        return self.step.total.completed

    def reset_on_run(self) -> None:
        self.step.reset_on_run()
        self.zero_grad.reset_on_run()

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": {"step": self.step.state_dict(), "zero_grad": self.zero_grad.state_dict()}
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step.load_state_dict(state["optimizer"]["step"])
        self.zero_grad.load_state_dict(state["optimizer"]["zero_grad"])
