"""One training batch's optimization: the closure, accumulation, and manual optimization.

Automatic optimization (facts §1.4, §1.6) is *not* the flat sequence the docs' pseudocode shows.
On a batch that steps, ``LightningModule.optimizer_step`` is entered first; it calls
``optimizer.step(closure)`` and the optimizer runs the closure, which does::

    training_step → [on_before_zero_grad, optimizer_zero_grad]   # first batch of a window only
                  → on_before_backward → backward → on_after_backward

then the precision plugin runs ``on_before_optimizer_step`` and ``configure_gradient_clipping``
before the real update. Batches inside an accumulation window call the closure directly (no
``optimizer_step`` hook). The loss is divided by ``accumulate_grad_batches`` before backward.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from reference.trainer.progress import OptimizerProgress, Progress
from reference.utilities.exceptions import MisconfigurationException
from reference.utilities.warnings import WarnOnce

if TYPE_CHECKING:
    from reference.trainer.trainer import Trainer


def parse_training_step_output(output: Any, normalize: int) -> tuple[Tensor | None, dict]:
    """``(loss, extras)`` from what ``training_step`` returned; the loss is divided by
    ``normalize`` (``accumulate_grad_batches``)."""
    extra: dict[str, Any] = {}
    if isinstance(output, Tensor):
        loss = output
    elif isinstance(output, Mapping):
        loss = output.get("loss")
        if loss is None:
            raise MisconfigurationException(
                "In automatic_optimization, when `training_step` returns a dict, the 'loss' key"
                f" needs to be present. Found keys: {sorted(output)}"
            )
        extra = {k: v for k, v in output.items() if k != "loss"}
    elif output is None:
        loss = None
    else:
        raise MisconfigurationException(
            "In automatic optimization, `training_step` must return a Tensor, a dict, or None"
            f" (where the step will be skipped). It returned {type(output).__name__}:"
            f" {output!r:.200}"
        )
    if loss is not None and normalize != 1:
        loss = loss / normalize  # not in place: the user's tensor must not change
    return loss, extra


class Closure:
    """The callable handed to ``optimizer.step``: one batch's training step, zero_grad, backward.

    One instance is reused; :meth:`prepare` loads the next batch into it. After a call,
    ``closure_loss`` is the (normalized) loss with its graph, ``loss`` a detached view of it.
    """

    def __init__(self, owner: AutomaticOptimization) -> None:
        self._owner = owner
        self.step_args: tuple = ()
        self.batch_idx = 0
        self.epoch = 0
        self.optimizer: Any = None
        self.zero_grad = False
        self.ran = False
        self.closure_loss: Tensor | None = None
        self.loss: Tensor | None = None
        self.extra: dict[str, Any] = {}

    def prepare(
        self, step_args: tuple, batch_idx: int, epoch: int, optimizer: Any, zero_grad: bool
    ) -> None:
        self.step_args, self.batch_idx, self.epoch = step_args, batch_idx, epoch
        self.optimizer, self.zero_grad = optimizer, zero_grad
        self.ran = False
        self.closure_loss = self.loss = None
        self.extra = {}

    def __call__(self) -> Tensor | None:
        # optimizers call closures with grad enabled; a direct call (accumulation) may not be
        if torch.is_grad_enabled():
            return self._run()
        with torch.enable_grad():
            return self._run()

    def _run(self) -> Tensor | None:
        owner = self._owner
        trainer = owner.trainer
        hooks = trainer._hooks
        previous, hooks.current_fx = hooks.current_fx, "training_step"
        output = trainer.strategy.training_step(*self.step_args)
        hooks.current_fx = previous
        loss, self.extra = parse_training_step_output(output, trainer.accumulate_grad_batches)
        # Lightning also clones the loss; nothing changes the closure loss in place (AMP scaling
        # makes a new tensor), so a detached view holds the same value without the copy
        self.closure_loss, self.loss = loss, None if loss is None else loss.detach()
        self.ran = True
        if loss is None:
            owner.warnings.warn(
                "`training_step` returned `None`. If this was on purpose, ignore this warning..."
            )
        if self.zero_grad:
            progress = owner.optim_progress.zero_grad
            progress.increment_ready()
            if "on_before_zero_grad" in hooks.live:
                hooks.event("on_before_zero_grad", self.optimizer)
            progress.increment_started()
            hooks.module("optimizer_zero_grad", self.epoch, self.batch_idx, self.optimizer)
            progress.increment_completed()
        if loss is not None:
            trainer.strategy.backward(loss, self.optimizer)
        return self.loss

    def outputs(self) -> dict[str, Any]:
        """``outputs`` of ``on_train_batch_end``: ``{}`` when the step returned None."""
        if self.loss is None:
            return {}
        return {"loss": self.loss, **self.extra}


class AutomaticOptimization:
    """Runs the closure, directly (accumulating) or through ``optimizer_step`` (stepping)."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.optim_progress = OptimizerProgress()
        self.warnings = WarnOnce()
        self._closure = Closure(self)

    def run(
        self, optimizer: Any, batch_idx: int, epoch: int, step_args: tuple, accumulating: bool
    ) -> dict[str, Any]:
        trainer = self.trainer
        closure = self._closure
        zero_grad = batch_idx % trainer.accumulate_grad_batches == 0
        closure.prepare(step_args, batch_idx, epoch, optimizer, zero_grad)
        if accumulating:
            with trainer.strategy.block_backward_sync():
                closure()
        else:
            progress = self.optim_progress.step
            progress.increment_ready()
            trainer._hooks.module(
                "optimizer_step",
                epoch,
                batch_idx,
                trainer.strategy._lightning_optimizers[0],
                closure,
            )
            if not closure.ran:
                # an `optimizer_step` override that never called the closure skipped this
                # batch's training_step and backward: training would silently do nothing
                closure.prepare((), 0, 0, None, False)
                raise MisconfigurationException(
                    "The closure hasn't been executed. HINT: did you call `optimizer_closure()` in"
                    " your `optimizer_step` hook? It could also happen because the"
                    " `optimizer.step(optimizer_closure)` call did not execute it internally."
                )
            progress.increment_completed()
        outputs = closure.outputs() if closure.ran else {}
        closure.prepare((), 0, 0, None, False)  # do not keep the batch and its graph alive
        return outputs

    def state_dict(self) -> dict[str, Any]:
        return {"optim_progress": self.optim_progress.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optim_progress.load_state_dict(state["optim_progress"])


class ManualOptimization:
    """Calls ``training_step``; the user steps. Counts ``optimizer.step()`` calls for
    ``global_step``.
    """

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.optim_step_progress = Progress()

    def attach(self) -> None:
        """Make every wrapped optimizer report its steps here (called when training starts)."""
        for optimizer in self.trainer.strategy._lightning_optimizers:
            optimizer._on_before_step = self._on_before_step
            optimizer._on_after_step = self._on_after_step

    def _on_before_step(self) -> None:
        self.optim_step_progress.increment_ready()

    def _on_after_step(self) -> None:
        self.optim_step_progress.increment_completed()

    def run(self, step_args: tuple) -> dict[str, Any]:
        output = self.trainer._hooks.strategy("training_step", *step_args)
        if output is None:
            return {}
        if isinstance(output, Tensor):
            return {"loss": output.detach()}
        if isinstance(output, Mapping):
            outputs = dict(output)
            if isinstance(outputs.get("loss"), Tensor):
                outputs["loss"] = outputs["loss"].detach()
            return outputs
        raise MisconfigurationException(
            "In manual optimization, `training_step` must either return a Tensor or have no"
            f" return. It returned {type(output).__name__}."
        )

    def state_dict(self) -> dict[str, Any]:
        return {"optim_step_progress": self.optim_step_progress.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optim_step_progress.load_state_dict(state["optim_step_progress"])
