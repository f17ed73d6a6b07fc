"""The optimization side of a LightningModule: its optimizer hooks and manual optimization."""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import contextmanager
from typing import Any

from torch import Tensor
from torch.optim import Optimizer

from reference.core.optimizer import LightningOptimizer
from reference.utilities.exceptions import MisconfigurationException


class OptimizationMixin:
    """Optimizer hooks (defaults as in Lightning) and the manual-optimization API of
    :class:`~reference.module.LightningModule`."""

    # ------------------------------------------------------------------ optimization hooks
    def backward(self, loss: Tensor, *args: Any, **kwargs: Any) -> None:
        """Compute gradients; override for custom backward logic."""
        loss.backward(*args, **kwargs)

    def optimizer_step(
        self,
        epoch: int,
        batch_idx: int,
        optimizer: Any,
        optimizer_closure: Callable[[], Any] | None = None,
    ) -> None:
        """Step the optimizer. The closure runs ``training_step``, ``zero_grad`` and
        ``backward``.
        """
        optimizer.step(closure=optimizer_closure)

    def optimizer_zero_grad(self, epoch: int, batch_idx: int, optimizer: Optimizer) -> None:
        optimizer.zero_grad()

    def lr_scheduler_step(self, scheduler: Any, metric: Any) -> None:
        """Step one scheduler (``metric`` is the monitored value for ReduceLROnPlateau, else
        None).
        """
        if metric is None:
            scheduler.step()
        else:
            scheduler.step(metric)

    def configure_gradient_clipping(
        self,
        optimizer: Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """Called before every optimizer step; by default clips as the Trainer flags say."""
        self.clip_gradients(
            optimizer,
            gradient_clip_val=gradient_clip_val,
            gradient_clip_algorithm=gradient_clip_algorithm,
        )

    def clip_gradients(
        self,
        optimizer: Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """Clip gradients by norm or value; conflicting with the Trainer's clip flags is an
        error.
        """
        trainer = self.trainer
        if gradient_clip_val is None:
            gradient_clip_val = trainer.gradient_clip_val or 0.0
        elif (
            trainer.gradient_clip_val is not None and trainer.gradient_clip_val != gradient_clip_val
        ):
            raise MisconfigurationException(
                f"You have set `Trainer(gradient_clip_val={trainer.gradient_clip_val!r})` and have"
                f" passed `clip_gradients(gradient_clip_val={gradient_clip_val!r})`. Please use"
                " only one of them."
            )
        if gradient_clip_algorithm is None:
            gradient_clip_algorithm = trainer.gradient_clip_algorithm or "norm"
        else:
            gradient_clip_algorithm = gradient_clip_algorithm.lower()
            if trainer.gradient_clip_algorithm not in (None, gradient_clip_algorithm):
                raise MisconfigurationException(
                    "You have set"
                    f" `Trainer(gradient_clip_algorithm={trainer.gradient_clip_algorithm!r})` and"
                    " have passed"
                    f" `clip_gradients(gradient_clip_algorithm={gradient_clip_algorithm!r})`."
                    " Please use only one of them."
                )
        if not isinstance(gradient_clip_val, (int, float)) or isinstance(gradient_clip_val, bool):
            raise TypeError(
                f"`gradient_clip_val` should be an int or a float. Got {gradient_clip_val}."
            )
        if gradient_clip_algorithm not in ("norm", "value"):
            raise MisconfigurationException(
                f"`gradient_clip_algorithm` {gradient_clip_algorithm} is invalid. Allowed"
                " algorithms: ['value', 'norm']."
            )
        trainer.precision_plugin.clip_gradients(
            optimizer, gradient_clip_val, gradient_clip_algorithm
        )

    # ------------------------------------------------------------- manual optimization
    def optimizers(self, use_pl_optimizer: bool = True) -> Any:
        """The optimizer (or list of them); wrapped so ``step`` runs the trainer's hooks."""
        trainer = self.trainer
        opts = trainer.strategy._lightning_optimizers if use_pl_optimizer else trainer.optimizers
        if (
            isinstance(opts, list)
            and len(opts) == 1
            and isinstance(opts[0], (Optimizer, LightningOptimizer))
        ):
            return opts[0]
        return opts

    def lr_schedulers(self) -> Any:
        """The scheduler (or list of them), or None when ``configure_optimizers`` returned none."""
        configs = self.trainer.lr_scheduler_configs
        if not configs:
            return None
        schedulers = [config.scheduler for config in configs]
        return schedulers[0] if len(schedulers) == 1 else schedulers

    def manual_backward(self, loss: Tensor, *args: Any, **kwargs: Any) -> None:
        """``loss.backward()`` with the backward hooks and precision handling (manual optimization
        only).
        """
        if self.automatic_optimization:
            raise MisconfigurationException(
                "to use manual_backward, please disable automatic optimization: set model"
                " property `automatic_optimization` as False"
            )
        self.trainer.strategy.backward(loss, None, *args, **kwargs)

    def toggle_optimizer(self, optimizer: Optimizer | LightningOptimizer) -> None:
        """Only ``optimizer``'s parameters require grad until :meth:`untoggle_optimizer`."""
        state: dict[Tensor, bool] = {}
        for opt in self.trainer.optimizers:
            for group in opt.param_groups:
                for param in group["params"]:
                    if param not in state:
                        state[param] = param.requires_grad
                        param.requires_grad = False
        for group in optimizer.param_groups:
            for param in group["params"]:
                param.requires_grad = state[param]
        self._param_requires_grad_state = state

    def untoggle_optimizer(self, optimizer: Optimizer | LightningOptimizer) -> None:
        """Give the other optimizers' parameters back the ``requires_grad`` they had."""
        inner = optimizer.optimizer if isinstance(optimizer, LightningOptimizer) else optimizer
        for opt in self.trainer.optimizers:
            if opt is inner or opt is optimizer:
                continue
            for group in opt.param_groups:
                for param in group["params"]:
                    if param in self._param_requires_grad_state:
                        param.requires_grad = self._param_requires_grad_state[param]
        self._param_requires_grad_state = {}

    @contextmanager
    def toggled_optimizer(
        self, optimizer: Optimizer | LightningOptimizer
    ) -> Generator[None, None, None]:
        self.toggle_optimizer(optimizer)
        try:
            yield
        finally:
            self.untoggle_optimizer(optimizer)
