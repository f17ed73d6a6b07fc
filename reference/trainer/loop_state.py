"""The loops' part of a checkpoint, and where a resumed fit continues.

**Format.** Lightning stores each loop as one flat dict whose keys are dotted paths
(``"epoch_loop.batch_progress"``, ``"epoch_loop.val_loop.state_dict"`` ...), every loop having a
``state_dict`` entry. The reference's loops nest their counters instead; :func:`to_lightning` and
:func:`from_lightning` convert, so a file written here resumes in Lightning and the other way
round. Counters missing from a file (trackers differ slightly between versions) keep their
current values.

**Position.** Where training continues follows from the counters alone (facts §3.4, §3.5):

* every started epoch was also processed → the next epoch starts afresh;
* the epoch in progress was started but not processed → continue it after the batches already
  trained, without ``on_train_epoch_start``; a checkpoint saved in ``on_train_batch_end`` still
  owes the rest of that batch (its validation, if one was due);
* an epoch cut short by ``max_steps`` and resumed with a larger ``max_steps`` is continued (as in
  Lightning).

**Exact resume** (beyond Lightning): the checkpoint also holds the global RNG states at the save
and when the epoch's data iterator was created. The resumed epoch recreates that iterator from the
same RNG state (so a shuffling sampler draws the same permutation), skips the batches already
trained, and then puts back the RNG states of the save: the rest of the run draws exactly the
numbers the uninterrupted run drew. Without them (e.g. a Lightning-written file) the data is
still skipped to the saved position, but shuffles and dropout draw fresh numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reference.utilities import rng

if TYPE_CHECKING:
    from reference.trainer.data import BatchIterator
    from reference.trainer.fit_loop import FitLoop
    from reference.trainer.trainer import Trainer

LOOP_KEYS = ("fit_loop", "validate_loop", "test_loop", "predict_loop")


def _is_counter(value: Any) -> bool:
    return isinstance(value, dict) and ("total" in value or "optimizer" in value)


def to_lightning(nested: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A reference loop's nested ``state_dict`` as Lightning's flat, dotted dict."""
    flat: dict[str, Any] = {f"{prefix}state_dict": nested.get("state_dict", {})}
    for key, value in nested.items():
        if key == "state_dict":
            continue
        if _is_counter(value):
            flat[f"{prefix}{key}"] = _lightning_tracker(key, value)
        else:  # a child loop
            flat.update(to_lightning(value, f"{prefix}{key}."))
    return flat


def _only(counter: dict[str, Any], stages: tuple[str, ...]) -> dict[str, Any]:
    return {part: {s: counter[part][s] for s in stages} for part in ("total", "current")}


def _lightning_tracker(key: str, counter: dict[str, Any]) -> dict[str, Any]:
    """Two of Lightning's trackers count fewer stages than the reference's (loading accepts
    either shape; writing Lightning's keeps files identical)."""
    if key == "optim_step_progress":  # manual optimization: ready/completed
        return _only(counter, ("ready", "completed"))
    if key == "optim_progress":  # its zero_grad tracker: ready/started/completed
        zero_grad = _only(counter["optimizer"]["zero_grad"], ("ready", "started", "completed"))
        return {"optimizer": {**counter["optimizer"], "zero_grad": zero_grad}}
    return counter


def from_lightning(flat: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    """Lightning's flat loop dict as the nested form of ``template`` (a loop's current
    ``state_dict``); what the file lacks keeps the template's value."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        *path, leaf = key.split(".")
        node = nested
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value
    return _fill(template, nested)


def _fill(template: Any, loaded: Any) -> Any:
    if not isinstance(template, dict) or not isinstance(loaded, dict):
        return template if loaded is None else loaded
    return {key: _fill(value, loaded.get(key)) for key, value in template.items()}


def loops_state_dict(trainer: Trainer) -> dict[str, Any]:
    """The ``loops`` entry of a checkpoint."""
    loops = (trainer.fit_loop, trainer.validate_loop, trainer.test_loop, trainer.predict_loop)
    state = {key: to_lightning(loop.state_dict()) for key, loop in zip(LOOP_KEYS, loops)}
    state["predict_loop"]["batch_progress"].pop("is_last_batch", None)  # not kept by Lightning
    return state


def load_loop(loop: Any, flat: dict[str, Any] | None) -> None:
    """Restore one loop from its entry of a checkpoint's ``loops`` (nothing if absent)."""
    if flat:
        loop.load_state_dict(from_lightning(flat, loop.state_dict()))


@dataclass
class ResumePoint:
    """Where a resumed fit continues (see the module docstring)."""

    in_epoch: bool  # continue the epoch in progress (no on_train_epoch_start)
    batches_done: int  # batches of that epoch already trained
    batch_end_pending: bool  # saved in on_train_batch_end: the rest of that batch still runs
    rng_states: dict[str, Any] | None  # the global RNG states at the save
    epoch_rng_states: dict[str, Any] | None  # ... when the epoch's data iterator was created

    def before_epoch(self) -> None:
        """At the start of the resumed epoch: a new epoch draws from the RNG as saved."""
        if not self.in_epoch and self.rng_states is not None:
            rng.restore(self.rng_states)

    def position(self, fit_loop: FitLoop, batches: BatchIterator) -> None:
        """Recreate the epoch's data pass and skip the batches already trained."""
        if self.epoch_rng_states is not None:
            rng.restore(self.epoch_rng_states)
        fit_loop._start_pass(batches)
        for _ in range(self.batches_done):
            try:
                next(batches)
            except StopIteration:  # the data is shorter than when the checkpoint was saved
                break
        if self.rng_states is not None:
            rng.restore(self.rng_states)


def resume_point(fit_loop: FitLoop, exact: dict[str, Any] | None) -> ResumePoint:
    """Read the restored counters of ``fit_loop``; normalise the epoch counters so that
    ``current_epoch`` names the epoch training continues in."""
    epochs = fit_loop.epoch_progress
    batches = fit_loop.epoch_loop.batch_progress
    exact = exact or {}
    in_epoch = epochs.total.started > epochs.total.processed
    cut_short = (
        not in_epoch
        and epochs.total.completed < epochs.total.processed
        and not batches.is_last_batch
        and fit_loop.max_steps != -1
    )
    if cut_short:  # max_steps ended this epoch early: continue it, as Lightning does
        epochs.total.processed -= 1
        epochs.current.processed -= 1
        in_epoch = True
    if not in_epoch:  # finished (or processed, saved in on_train_epoch_end): the next one
        epochs.total.completed = epochs.total.processed
        epochs.current.completed = epochs.current.processed
    return ResumePoint(
        in_epoch=in_epoch,
        batches_done=batches.current.processed if in_epoch else 0,
        batch_end_pending=in_epoch and batches.current.processed > batches.current.completed,
        rng_states=exact.get("rng_states"),
        epoch_rng_states=exact.get("epoch_rng_states"),
    )
