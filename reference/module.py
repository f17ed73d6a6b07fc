"""``LightningModule``: a ``torch.nn.Module`` that also holds the training recipe.

Users override the step methods, ``configure_optimizers`` and any hook (see
:mod:`reference.core.hooks` for the defaults). The trainer attaches itself as ``self.trainer``;
everything here that needs the trainer says so with a clear error when there is none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.nn import Module

from reference.core.device_dtype import DeviceDtypeModuleMixin
from reference.core.hooks import CheckpointHooks, DataHooks, ModelHooks
from reference.core.hparams import HyperparametersMixin
from reference.core.module_logging import LoggingMixin
from reference.core.module_optimization import OptimizationMixin
from reference.core.saving import load_from_checkpoint, restricted_classmethod
from reference.utilities.apply_func import apply_to_collection, move_data_to_device
from reference.utilities.warnings import warn


class LightningModule(
    DeviceDtypeModuleMixin,
    HyperparametersMixin,
    LoggingMixin,
    OptimizationMixin,
    ModelHooks,
    DataHooks,
    CheckpointHooks,
    Module,
):
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
        "precision",
        "hparams",
        "hparams_initial",
    ]
    # where save_checkpoint puts the hyperparameters (Lightning's keys)
    CHECKPOINT_HYPER_PARAMS_KEY = "hyper_parameters"
    CHECKPOINT_HYPER_PARAMS_NAME = "hparams_name"
    CHECKPOINT_HYPER_PARAMS_TYPE = "hparams_type"

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
    def precision(self) -> Any:
        """The trainer's effective precision value (``"32-true"``, ``"bf16-mixed"``, ...).

        Seed 002 documents ``self.precision``; Lightning 2.0 removed it (#16203), the reference
        follows the documentation. Without a trainer it is the default, ``"32-true"``. Whatever
        the user stores under this name wins (a metric ``self.precision = Precision()`` is
        common): a submodule, parameter or buffer registered so, or a value assigned.
        """
        for registry in ("_modules", "_parameters", "_buffers"):
            owned = self.__dict__.get(registry)
            if owned is not None and "precision" in owned:
                return owned["precision"]
        if "_precision_value" in self.__dict__:
            return self.__dict__["_precision_value"]
        return self._trainer.precision if self._trainer is not None else "32-true"

    @precision.setter
    def precision(self, value: Any) -> None:
        self.__dict__["_precision_value"] = value

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

    @restricted_classmethod
    def load_from_checkpoint(
        cls,
        checkpoint_path: Any,
        map_location: Any = None,
        hparams_file: Any = None,
        strict: bool | None = None,
        weights_only: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """A new module built from a checkpoint: ``cls(**saved hparams, **kwargs)`` with the saved
        weights (see :mod:`reference.core.saving`).

        ``kwargs`` override saved hyperparameters and supply arguments left out with
        ``save_hyperparameters(ignore=...)``; ``hparams_file`` (YAML) replaces the saved ones;
        ``strict`` (default ``self.strict_loading``) rejects missing or unexpected weights;
        ``weights_only=False`` is the opt-in to load a trusted file holding arbitrary objects.
        """
        return load_from_checkpoint(
            cls, checkpoint_path, map_location, hparams_file, strict, weights_only, **kwargs
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
        if method not in ("script", "trace"):
            raise ValueError(
                "The 'method' parameter only supports 'script' or 'trace', but value given was:"
                f" {method}"
            )
        if method == "trace":
            example_inputs = self.example_input_array if example_inputs is None else example_inputs
            if example_inputs is None:
                raise ValueError(
                    "Choosing method=`trace` requires either `example_inputs` or"
                    " `model.example_input_array` to be defined."
                )
            # the inputs go where the model is, through the batch-transfer hooks, as in a step
            example_inputs = self._apply_batch_transfer_handler(
                self._on_before_batch_transfer(example_inputs)
            )
            if kwargs.get("check_inputs") is not None:
                kwargs["check_inputs"] = self._apply_batch_transfer_handler(
                    self._on_before_batch_transfer(kwargs["check_inputs"])
                )
        # scripting and tracing both read every attribute (`trainer` included) of the module
        self._jit_is_scripting = True
        try:
            if method == "script":
                scripted = torch.jit.script(self.eval(), **kwargs)
            else:
                scripted = torch.jit.trace(
                    func=self.eval(), example_inputs=example_inputs, **kwargs
                )
        finally:
            self._jit_is_scripting = False
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
