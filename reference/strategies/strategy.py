"""``Strategy``: owns the model for a run; moves it and its batches, runs steps and backward.

Composition (seed 004): a strategy holds an :class:`~reference.accelerators.Accelerator` for
the hardware and a :class:`~reference.precision.Precision` plugin for dtypes and scaling. The
loops never touch a device or a dtype themselves; they ask the strategy.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Generator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from reference.accelerators.accelerator import Accelerator
from reference.core.optimizer import LightningOptimizer
from reference.precision.precision import Precision
from reference.utilities.apply_func import move_data_to_device


class Strategy(ABC):
    """Base class; :class:`~reference.strategies.SingleDeviceStrategy` is the one used today."""

    # Distributed strategies that shard or wrap optimizers set these (Lightning's names).
    restore_checkpoint_after_setup: bool = False
    handles_gradient_accumulation: bool = False
    # False where torch.inference_mode breaks the device (XLA): evaluation uses no_grad instead
    supports_inference_mode: bool = True

    def __init__(
        self, accelerator: Accelerator | None = None, precision_plugin: Precision | None = None
    ) -> None:
        self.accelerator = accelerator
        self.precision_plugin = precision_plugin if precision_plugin is not None else Precision()
        self._lightning_module: Any = None
        self._model: Any = None
        self.optimizers: list[Optimizer] = []
        self.lr_scheduler_configs: list[Any] = []
        self._lightning_optimizers: list[LightningOptimizer] = []

    # ------------------------------------------------------------------------- identity
    @property
    @abstractmethod
    def root_device(self) -> torch.device:
        """The device the model and batches live on."""

    @property
    def is_global_zero(self) -> bool:
        return self.global_rank == 0

    @property
    def global_rank(self) -> int:
        return 0

    @property
    def local_rank(self) -> int:
        return 0

    @property
    def node_rank(self) -> int:
        return 0

    @property
    def world_size(self) -> int:
        return 1

    @property
    def lightning_module(self) -> Any:
        return self._lightning_module

    @property
    def model(self) -> Any:
        """The model the loops call: the LightningModule, or a wrapper around it."""
        return self._model if self._model is not None else self._lightning_module

    @model.setter
    def model(self, model: Any) -> None:
        self._model = model

    # ------------------------------------------------------------------------ lifecycle
    def connect(self, model: Any) -> None:
        self._lightning_module = model
        self._model = model

    def setup_environment(self) -> None:
        """Before ``setup`` hooks: e.g. initialise process groups, select the device."""
        if self.accelerator is not None:
            self.accelerator.setup_device(self.root_device)

    def setup(self, trainer: Any) -> None:
        """After ``setup``/``configure_model``: convert and move the model, then build
        optimizers.
        """
        if self.accelerator is not None:
            self.accelerator.setup(trainer)
        self.model = self.precision_plugin.convert_module(self.model)
        self.model_to_device()
        if trainer.state.fn == "fit":
            self.setup_optimizers(trainer)
            self._optimizers_to_device()

    def setup_optimizers(self, trainer: Any) -> None:
        from reference.trainer.optimizers import init_optimizers_and_lr_schedulers

        self.optimizers, self.lr_scheduler_configs = init_optimizers_and_lr_schedulers(
            self.lightning_module
        )
        self._lightning_optimizers = [LightningOptimizer.wrap(opt, self) for opt in self.optimizers]

    @abstractmethod
    def model_to_device(self) -> None:
        """Move the model to ``root_device``."""
        return None

    def _optimizers_to_device(self, device: torch.device | None = None) -> None:
        device = device or self.root_device
        for optimizer in self.optimizers:
            for state in optimizer.state.values():
                for key, value in state.items():
                    # a non-capturable optimizer keeps its step counter on the CPU
                    if isinstance(value, Tensor) and key != "step":
                        state[key] = value.to(device)

    def teardown(self) -> None:
        """After the run, before ``on_fit_end``/``teardown``: hand the model and the optimizer
        state back on the CPU (facts §6), so that accelerator memory is free and the user's code
        after ``fit`` sees CPU tensors; then tear down the precision plugin and the accelerator.
        """
        if self.root_device.type != "cpu":
            self._optimizers_to_device(torch.device("cpu"))
            if self.lightning_module is not None:
                self.lightning_module.cpu()
        self.precision_plugin.teardown()
        if self.accelerator is not None:
            self.accelerator.teardown()

    def on_exception(self, exception: BaseException) -> None:
        """Called when a run is interrupted by ``exception``."""
        return None

    # ------------------------------------------------------------------------- per batch
    def batch_to_device(
        self, batch: Any, device: torch.device | None = None, dataloader_idx: int = 0
    ) -> Any:
        """Move a batch through the module's transfer hooks (or directly, without a module)."""
        device = device or self.root_device
        module = self.lightning_module
        if module is not None:
            return module._apply_batch_transfer_handler(
                batch, device=device, dataloader_idx=dataloader_idx
            )
        return move_data_to_device(batch, device)

    def training_step(self, *args: Any) -> Any:
        with self.precision_plugin.forward_context():
            return self.lightning_module.training_step(*args)

    def validation_step(self, *args: Any) -> Any:
        with self.precision_plugin.forward_context():
            return self.lightning_module.validation_step(*args)

    def test_step(self, *args: Any) -> Any:
        with self.precision_plugin.forward_context():
            return self.lightning_module.test_step(*args)

    def predict_step(self, *args: Any) -> Any:
        with self.precision_plugin.forward_context():
            return self.lightning_module.predict_step(*args)

    def backward(
        self, closure_loss: Tensor, optimizer: Optimizer | None, *args: Any, **kwargs: Any
    ) -> Tensor:
        """``on_before_backward`` → ``LightningModule.backward`` → ``on_after_backward``."""
        module = self.lightning_module
        precision = self.precision_plugin
        closure_loss = precision.pre_backward(closure_loss, module)
        precision.backward(closure_loss, module, optimizer, *args, **kwargs)
        return precision.post_backward(closure_loss, module)

    def optimizer_step(
        self, optimizer: Optimizer, closure: Callable[[], Any], model: Any = None, **kwargs: Any
    ) -> Any:
        model = model if model is not None else self.lightning_module
        return self.precision_plugin.optimizer_step(
            optimizer, model=model, closure=closure, **kwargs
        )

    # ------------------------------------------------------------------- collectives
    def all_gather(self, tensor: Tensor, group: Any = None, sync_grads: bool = False) -> Tensor:
        return tensor

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        return obj

    def barrier(self, name: str | None = None) -> None:
        return None

    def reduce(self, tensor: Any, group: Any = None, reduce_op: str | None = "mean") -> Any:
        return tensor

    def reduce_boolean_decision(self, decision: bool, all: bool = True) -> bool:
        return decision

    @contextmanager
    def block_backward_sync(self) -> Generator[None, None, None]:
        """While accumulating: skip gradient synchronisation (a no-op on one device)."""
        yield

    @contextmanager
    def tensor_init_context(self, empty_init: bool | None = None) -> Generator[None, None, None]:
        """Tensors created inside are made on ``root_device`` in the precision's dtype."""
        with self.root_device, self.precision_plugin.tensor_init_context():
            yield

    def model_sharded_context(self) -> Any:
        return nullcontext()

    # ------------------------------------------------------------------- checkpoint seams
    def lightning_module_state_dict(self) -> dict[str, Any]:
        return self.lightning_module.state_dict()

    def optimizer_state(self, optimizer: Optimizer) -> dict[str, Any]:
        return optimizer.state_dict()

    # strategy-level hooks, called after the LightningModule's hook of the same name
    def on_train_start(self) -> None:
        return None

    def on_train_end(self) -> None:
        return None

    def on_validation_start(self) -> None:
        return None

    def on_validation_end(self) -> None:
        return None

    def on_test_start(self) -> None:
        return None

    def on_test_end(self) -> None:
        return None

    def on_predict_start(self) -> None:
        return None

    def on_predict_end(self) -> None:
        return None

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        return None
