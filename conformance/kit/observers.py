"""A callback that records the loop state the trainer exposes at chosen hooks.

Built as a subclass of the *target's* ``Callback`` so any trainer that dispatches callback hooks can
be observed. What is recorded at each hook is up to a *probe* function; :func:`loop_state` is the
common one (epoch, global step, batch index, sanity-check flag).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from conformance.target import Target

# Position of ``batch_idx`` among a batch hook's arguments after ``(trainer, pl_module)``.
_BATCH_IDX_AT = {
    "on_train_batch_start": 1,
    "on_train_batch_end": 2,
    "on_validation_batch_start": 1,
    "on_validation_batch_end": 2,
    "on_test_batch_start": 1,
    "on_test_batch_end": 2,
    "on_predict_batch_start": 1,
    "on_predict_batch_end": 2,
}

Probe = Callable[[str, Any, Any, tuple[Any, ...]], Any]


@dataclass(frozen=True)
class LoopState:
    """The trainer's loop counters as seen from inside one hook."""

    hook: str
    epoch: int
    global_step: int
    batch_idx: int | None
    sanity_checking: bool


def batch_idx_of(hook: str, args: tuple[Any, ...]) -> int | None:
    """The ``batch_idx`` argument of a batch hook, or None for other hooks."""
    position = _BATCH_IDX_AT.get(hook)
    if position is None or position >= len(args):
        return None
    return int(args[position])


def loop_state(hook: str, trainer: Any, pl_module: Any, args: tuple[Any, ...]) -> LoopState:
    """Probe: the trainer's counters at ``hook``."""
    return LoopState(
        hook=hook,
        epoch=int(trainer.current_epoch),
        global_step=int(trainer.global_step),
        batch_idx=batch_idx_of(hook, args),
        sanity_checking=bool(getattr(trainer, "sanity_checking", False)),
    )


def observer(target: Target, hooks: Iterable[str], probe: Probe = loop_state) -> Any:
    """A callback instance recording ``probe(hook, trainer, pl_module, args)`` at each of ``hooks``.

    The records are in ``callback.records`` in call order.
    """

    def recorder(hook: str) -> Callable[..., None]:
        def record(self: Any, trainer: Any, pl_module: Any, *args: Any, **kwargs: Any) -> None:
            self.records.append(probe(hook, trainer, pl_module, args))

        record.__name__ = hook
        return record

    namespace: dict[str, Any] = {hook: recorder(hook) for hook in hooks}
    cls = type("StateObserver", (target.Callback,), namespace)
    instance = cls()
    instance.records = []
    return instance
