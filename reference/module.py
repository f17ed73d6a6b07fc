"""``LightningModule``: a ``torch.nn.Module`` that also holds the training recipe.

Users override the step methods, ``configure_optimizers`` and any hook (see
:mod:`reference.core.hooks` for the defaults). The trainer attaches itself as ``self.trainer``;
everything here that needs the trainer says so with a clear error when there is none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor
from torch.nn import Module
from torch.optim import Optimizer

from reference.core.device_dtype import DeviceDtypeModuleMixin
from reference.core.hooks import CheckpointHooks, DataHooks, ModelHooks
from reference.core.optimizer import LightningOptimizer
from reference.utilities.apply_func import apply_to_collection, move_data_to_device
from reference.utilities.exceptions import MisconfigurationException
from reference.utilities.warnings import warn

log = logging.getLogger("reference")

# Where each hook may log, and its defaults: (default_on_step, default_on_epoch, may_log_on_step).
# Hooks missing from this table may not log at all (Lightning's _FxValidator, facts §8).
_STEP = (True, False, True)  # per-step hooks: default on_step; both allowed
_EVAL_STEP = (False, True, True)  # evaluation batch hooks: default on_epoch; both allowed
_EPOCH = (False, True, False)  # epoch-level hooks: only on_epoch=True allowed
LOGGING_RULES: dict[str, tuple[bool, bool, bool]] = {
    **dict.fromkeys(
        (
            "training_step",
            "on_train_batch_start",
            "on_train_batch_end",
            "on_before_backward",
            "backward",
            "on_after_backward",
            "on_before_optimizer_step",
            "optimizer_step",
            "configure_gradient_clipping",
            "clip_gradients",
            "on_before_zero_grad",
            "optimizer_zero_grad",
        ),
        _STEP,
    ),
    **dict.fromkeys(
        (
            "validation_step",
            "test_step",
            "on_validation_batch_start",
            "on_validation_batch_end",
            "on_test_batch_start",
            "on_test_batch_end",
        ),
        _EVAL_STEP,
    ),
    **dict.fromkeys(
        (
            "on_train_start",
            "on_validation_start",
            "on_test_start",
            "on_train_epoch_start",
            "on_train_epoch_end",
            "on_validation_epoch_start",
            "on_validation_epoch_end",
            "on_test_epoch_start",
            "on_test_epoch_end",
        ),
        _EPOCH,
    ),
}


class LightningModule(DeviceDtypeModuleMixin, ModelHooks, DataHooks, CheckpointHooks, Module):
    """The model plus its training recipe; runs unchanged under Lightning or the reference
    Trainer.
    """

    # TorchScript must not try to compile these (they reach the trainer)
    __jit_unused_properties__: list[str] = [
        "example_input_array",
        "on_gpu",
        "current_epoch",
        "global_step",
        "global_rank",
        "local_rank",
        "logger",
        "loggers",
        "automatic_optimization",
        "trainer",
        "fabric",
        "strict_loading",
        "device",
        "dtype",
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._trainer: Any = None
        self._automatic_optimization = True
        self._strict_loading: bool | None = None
        self._example_input_array: Any = None
        self._param_requires_grad_state: dict[Tensor, bool] = {}
        self._jit_is_scripting = False  # TorchScript reads every property while scripting

    # -------------------------------------------------------------------- trainer & state
    @property
    def trainer(self) -> Any:
        if self._trainer is None and not self._jit_is_scripting:
            raise RuntimeError(f"{self.__class__.__qualname__} is not attached to a `Trainer`.")
        return self._trainer

    @trainer.setter
    def trainer(self, trainer: Any) -> None:
        for child in self.children():
            if isinstance(child, LightningModule):
                child.trainer = trainer
        object.__setattr__(self, "_trainer", trainer)

    @property
    def fabric(self) -> None:
        return None  # the reference has no Fabric; present because Lightning code reads it

    @property
    def current_epoch(self) -> int:
        """The epoch in progress (0-based); the number of finished epochs after fit. 0 without a
        trainer.
        """
        return self._trainer.current_epoch if self._trainer is not None else 0

    @property
    def global_step(self) -> int:
        """Optimizer steps taken so far (does not reset per epoch). 0 without a trainer."""
        return self._trainer.global_step if self._trainer is not None else 0

    @property
    def global_rank(self) -> int:
        return self._trainer.global_rank if self._trainer is not None else 0

    @property
    def local_rank(self) -> int:
        return self._trainer.local_rank if self._trainer is not None else 0

    @property
    def on_gpu(self) -> bool:
        return self.device.type == "cuda"

    @property
    def automatic_optimization(self) -> bool:
        """False: ``training_step`` calls ``self.optimizers()``, ``manual_backward`` and ``step``
        itself.
        """
        return self._automatic_optimization

    @automatic_optimization.setter
    def automatic_optimization(self, value: bool) -> None:
        self._automatic_optimization = value

    @property
    def strict_loading(self) -> bool:
        return self._strict_loading in (None, True)

    @strict_loading.setter
    def strict_loading(self, value: bool) -> None:
        self._strict_loading = value

    @property
    def example_input_array(self) -> Any:
        """One example batch for ``forward`` (a tensor, a tuple of args or a dict of kwargs)."""
        return self._example_input_array

    @example_input_array.setter
    def example_input_array(self, example: Any) -> None:
        self._example_input_array = example

    @property
    def logger(self) -> Any:
        """The trainer's first logger (None without a trainer or logger)."""
        return self._trainer.logger if self._trainer is not None else None

    @property
    def loggers(self) -> list[Any]:
        return self._trainer.loggers if self._trainer is not None else []

    # ---------------------------------------------------------------------- the recipe
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return super().forward(*args, **kwargs)

    def training_step(self, *args: Any, **kwargs: Any) -> Any:
        """Compute and return the training loss (a tensor, a dict with ``"loss"``, or None to
        skip).
        """
        warn("`training_step` must be implemented to be used with the Lightning Trainer")

    def validation_step(self, *args: Any, **kwargs: Any) -> Any:
        """Evaluate one validation batch (optional; enables validation)."""

    def test_step(self, *args: Any, **kwargs: Any) -> Any:
        """Evaluate one test batch (required by ``trainer.test``)."""

    def predict_step(self, *args: Any, **kwargs: Any) -> Any:
        """Predict one batch; by default ``self(batch)``."""
        batch = kwargs.get("batch", args[0])
        return self(batch)

    def configure_optimizers(self) -> Any:
        """Return the optimizer(s) and, optionally, LR scheduler(s) (see the reference guide)."""
        warn("`configure_optimizers` must be implemented to be used with the Lightning Trainer")

    def configure_callbacks(self) -> Sequence[Any] | Any:
        """Extra callbacks; they replace trainer callbacks of the same type."""
        return []

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

    # ----------------------------------------------------------------------- logging
    def log(
        self,
        name: str,
        value: Any,
        prog_bar: bool = False,
        logger: bool | None = None,
        on_step: bool | None = None,
        on_epoch: bool | None = None,
        reduce_fx: str | Callable = "mean",
        enable_graph: bool = False,
        sync_dist: bool = False,
        sync_dist_group: Any = None,
        add_dataloader_idx: bool = True,
        batch_size: int | None = None,
        metric_attribute: str | None = None,
        rank_zero_only: bool = False,
    ) -> None:
        """Record ``value`` under ``name`` for callbacks, the progress bar and the loggers.

        The hook calling it decides the defaults: per-step in training hooks, per-epoch (mean
        over batches, weighted by batch size) in evaluation hooks and epoch hooks.
        """
        from reference.trainer.results import parse_reduce_fx, to_logged_tensor

        trainer = self._trainer
        if trainer is None:
            warn(
                "You are trying to `self.log()` but the `self.trainer` reference is not"
                " registered on the model yet. This is most likely because the model hasn't been"
                " passed to the `Trainer`"
            )
            return
        if trainer.barebones:
            warn(
                "You are trying to `self.log()` but `Trainer(barebones=True)` is configured."
                " Logging can impact raw speed so it is disabled under this setting."
            )
            return
        fx = trainer._hooks.current_fx
        results = trainer._results
        if results is None:
            raise MisconfigurationException(
                "You are trying to `self.log()` but the loop's result collection is not"
                " registered yet. This is most likely because you are trying to log in a"
                " `predict` hook, but it doesn't support logging"
            )
        if fx is None:
            raise MisconfigurationException(
                "You are trying to `self.log()` but it is not managed by the `Trainer` control flow"
            )
        rules = LOGGING_RULES.get(fx)
        if rules is None:
            raise MisconfigurationException(
                f"You can't `self.log()` inside `{fx}`. HINT: You can still log directly to the"
                " logger by using `self.logger.experiment`."
            )
        default_on_step, default_on_epoch, may_log_on_step = rules
        on_step = default_on_step if on_step is None else on_step
        on_epoch = default_on_epoch if on_epoch is None else on_epoch
        if not may_log_on_step and (on_step or not on_epoch):
            which = ("on_step", on_step, (False,)) if on_step else ("on_epoch", on_epoch, (True,))
            raise MisconfigurationException(
                f"You can't `self.log({which[0]}={which[1]})` inside `{fx}`, must be one of"
                f" {which[2]}."
            )
        if add_dataloader_idx and "/dataloader_idx_" in name:
            raise MisconfigurationException(
                f"You called `self.log` with the key `{name}` but it should not contain"
                " information about `dataloader_idx` when `add_dataloader_idx=True`"
            )
        if logger and not trainer.loggers:
            warn(
                f"You called `self.log({name!r}, ..., logger=True)` but have no logger configured."
                " You can enable one by doing `Trainer(logger=ALogger(...))`"
            )
        value = to_logged_tensor(value, name, self.device, enable_graph)
        results.log(
            fx,
            name,
            value,
            prog_bar=prog_bar,
            logger=True if logger is None else logger,
            on_step=on_step,
            on_epoch=on_epoch,
            reduce=parse_reduce_fx(reduce_fx),
            enable_graph=enable_graph,
            add_dataloader_idx=add_dataloader_idx,
            batch_size=batch_size,
        )

    def log_dict(
        self,
        dictionary: Mapping[str, Any],
        prog_bar: bool = False,
        logger: bool | None = None,
        on_step: bool | None = None,
        on_epoch: bool | None = None,
        reduce_fx: str | Callable = "mean",
        enable_graph: bool = False,
        sync_dist: bool = False,
        sync_dist_group: Any = None,
        add_dataloader_idx: bool = True,
        batch_size: int | None = None,
        rank_zero_only: bool = False,
    ) -> None:
        """:meth:`log` every key/value of ``dictionary`` with the same settings."""
        for name, value in dictionary.items():
            self.log(
                name,
                value,
                prog_bar=prog_bar,
                logger=logger,
                on_step=on_step,
                on_epoch=on_epoch,
                reduce_fx=reduce_fx,
                enable_graph=enable_graph,
                sync_dist=sync_dist,
                sync_dist_group=sync_dist_group,
                add_dataloader_idx=add_dataloader_idx,
                batch_size=batch_size,
                rank_zero_only=rank_zero_only,
            )

    # -------------------------------------------------------------------- utilities
    def all_gather(
        self, data: Tensor | dict | list | tuple, group: Any = None, sync_grads: bool = False
    ) -> Any:
        """Gather tensors from every process (one process: the data itself, as tensors)."""
        gather = self.trainer.strategy.all_gather
        data = apply_to_collection(
            data, (int, float), lambda v: torch.tensor(v, device=self.device)
        )
        return apply_to_collection(data, Tensor, gather, group=group, sync_grads=sync_grads)

    def print(self, *args: Any, **kwargs: Any) -> None:
        """``print`` on the main process only, without breaking the progress bar."""
        trainer = self.trainer
        if trainer.is_global_zero:
            bar = trainer.progress_bar_callback
            if bar is not None and bar.is_enabled:
                bar.print(*args, **kwargs)
            else:
                print(*args, **kwargs)

    def freeze(self) -> LightningModule:
        """No parameter requires grad, and eval mode."""
        for param in self.parameters():
            param.requires_grad = False
        return self.eval()

    def unfreeze(self) -> LightningModule:
        """Every parameter requires grad, and train mode."""
        for param in self.parameters():
            param.requires_grad = True
        return self.train()

    @torch.no_grad()
    def to_torchscript(
        self,
        file_path: str | None = None,
        method: str = "script",
        example_inputs: Any = None,
        **kwargs: Any,
    ) -> Any:
        """A TorchScript version of the model (``script`` or ``trace``), saved if ``file_path`` is
        given.
        """
        mode = self.training
        if method == "script":
            self._jit_is_scripting = True
            try:
                scripted = torch.jit.script(self.eval(), **kwargs)
            finally:
                self._jit_is_scripting = False
        elif method == "trace":
            example_inputs = self.example_input_array if example_inputs is None else example_inputs
            if example_inputs is None:
                raise ValueError(
                    "Choosing method=`trace` requires either `example_inputs` or"
                    " `model.example_input_array` to be defined."
                )
            scripted = torch.jit.trace(func=self.eval(), example_inputs=example_inputs, **kwargs)
        else:
            raise ValueError(
                "The 'method' parameter only supports 'script' or 'trace', but value given was:"
                f" {method}"
            )
        self.train(mode)
        if file_path is not None:
            torch.jit.save(scripted, file_path)
        return scripted

    @torch.no_grad()
    def to_onnx(self, file_path: Any, input_sample: Any = None, **kwargs: Any) -> Any:
        """Export to ONNX with ``input_sample`` (or ``example_input_array``)."""
        mode = self.training
        input_sample = self.example_input_array if input_sample is None else input_sample
        if input_sample is None:
            raise ValueError(
                "Could not export to ONNX since neither `input_sample` nor"
                " `model.example_input_array` attribute is set."
            )
        torch.onnx.export(self.eval(), input_sample, file_path, **kwargs)
        self.train(mode)

    # ------------------------------------------------------------ batch transfer plumbing
    def _on_before_batch_transfer(self, batch: Any, dataloader_idx: int = 0) -> Any:
        trainer = self._trainer
        if trainer is None:
            return self.on_before_batch_transfer(batch, dataloader_idx)
        return trainer._hooks.batch_hook("on_before_batch_transfer", batch, dataloader_idx)

    def _apply_batch_transfer_handler(
        self, batch: Any, device: torch.device | None = None, dataloader_idx: int = 0
    ) -> Any:
        device = device or self.device
        trainer = self._trainer
        if trainer is None:
            batch = self.transfer_batch_to_device(batch, device, dataloader_idx)
            return self.on_after_batch_transfer(batch, dataloader_idx)
        hooks = trainer._hooks
        if hooks.default_batch_transfer:  # the default hooks amount to this
            return move_data_to_device(batch, device)
        batch = hooks.batch_hook("transfer_batch_to_device", batch, device, dataloader_idx)
        return hooks.batch_hook("on_after_batch_transfer", batch, dataloader_idx)
