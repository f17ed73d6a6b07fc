"""Record the ENTRY order of hook calls through public hook overrides.

The same recorder is built on top of any Lightning-compatible namespace (``reference`` or real
``pytorch_lightning``), so traces from both can be compared item by item. Every hook name is
appended when the hook is *entered* (before the default body runs), which is the order a user's
override observes. Real Lightning's own ``test_hooks.py`` records on exit instead (facts §0).
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

# LightningModule hooks and methods recorded when called by the trainer. ``forward``,
# ``zero_grad`` and ``train`` are plain ``nn.Module`` methods that the loops call on purpose.
MODULE_HOOKS = (
    "prepare_data",
    "setup",
    "teardown",
    "configure_model",
    "configure_optimizers",
    "configure_callbacks",
    "train_dataloader",
    "val_dataloader",
    "test_dataloader",
    "predict_dataloader",
    "on_fit_start",
    "on_fit_end",
    "on_train_start",
    "on_train_end",
    "on_validation_start",
    "on_validation_end",
    "on_test_start",
    "on_test_end",
    "on_predict_start",
    "on_predict_end",
    "on_train_epoch_start",
    "on_train_epoch_end",
    "on_validation_epoch_start",
    "on_validation_epoch_end",
    "on_test_epoch_start",
    "on_test_epoch_end",
    "on_predict_epoch_start",
    "on_predict_epoch_end",
    "on_train_batch_start",
    "on_train_batch_end",
    "on_validation_batch_start",
    "on_validation_batch_end",
    "on_test_batch_start",
    "on_test_batch_end",
    "on_predict_batch_start",
    "on_predict_batch_end",
    "on_validation_model_zero_grad",
    "on_validation_model_eval",
    "on_validation_model_train",
    "on_test_model_eval",
    "on_test_model_train",
    "on_predict_model_eval",
    "on_before_batch_transfer",
    "transfer_batch_to_device",
    "on_after_batch_transfer",
    "training_step",
    "validation_step",
    "test_step",
    "predict_step",
    "on_before_zero_grad",
    "optimizer_zero_grad",
    "on_before_backward",
    "backward",
    "on_after_backward",
    "on_before_optimizer_step",
    "configure_gradient_clipping",
    "clip_gradients",
    "optimizer_step",
    "lr_scheduler_step",
    "manual_backward",
    "on_save_checkpoint",
    "on_load_checkpoint",
    "forward",
    "zero_grad",
    "train",
)
# Hooks Lightning only calls when the user overrides them (facts §1.12); a trace run can
# leave them out of the recorder to check that they are then not called at all.
OPTIONAL_MODULE_HOOKS = (
    "prepare_data",
    "configure_model",
    "on_validation_model_train",
    "on_test_model_train",
)

CALLBACK_HOOKS = (
    "setup",
    "teardown",
    "on_fit_start",
    "on_fit_end",
    "on_sanity_check_start",
    "on_sanity_check_end",
    "on_train_batch_start",
    "on_train_batch_end",
    "on_train_epoch_start",
    "on_train_epoch_end",
    "on_validation_epoch_start",
    "on_validation_epoch_end",
    "on_test_epoch_start",
    "on_test_epoch_end",
    "on_predict_epoch_start",
    "on_predict_epoch_end",
    "on_validation_batch_start",
    "on_validation_batch_end",
    "on_test_batch_start",
    "on_test_batch_end",
    "on_predict_batch_start",
    "on_predict_batch_end",
    "on_train_start",
    "on_train_end",
    "on_validation_start",
    "on_validation_end",
    "on_test_start",
    "on_test_end",
    "on_predict_start",
    "on_predict_end",
    "on_exception",
    "state_dict",
    "load_state_dict",
    "on_save_checkpoint",
    "on_load_checkpoint",
    "on_before_backward",
    "on_after_backward",
    "on_before_optimizer_step",
    "on_before_zero_grad",
)


def describe(value: Any) -> str:
    """A short, framework-independent rendering of one hook argument."""
    if isinstance(value, enum.Enum):  # e.g. TrainerFn.FITTING: both frameworks render "fit"
        value = value.value
    if value is None or isinstance(value, (bool, int, str, float)):
        return repr(value)
    if isinstance(value, torch.Tensor):
        return "T"
    if isinstance(value, torch.device):
        return f"device({value.type})"
    if isinstance(value, dict):
        return "{" + ",".join(sorted(str(k) for k in value)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(describe(v) for v in value) + "]"
    names = {type(value).__name__, *(c.__name__ for c in type(value).__mro__)}
    if names & {"Optimizer", "LightningOptimizer"}:
        return "opt"
    if names & {"LRScheduler", "_LRScheduler", "ReduceLROnPlateau"}:
        return "sched"
    if callable(value):
        return "fn"
    return type(value).__name__


def render(name: str, args: tuple, kwargs: dict) -> str:
    parts = [describe(a) for a in args]
    parts += [f"{k}={describe(v)}" for k, v in sorted(kwargs.items())]
    return f"{name}({', '.join(parts)})"


class RandomDataset(Dataset):
    def __init__(self, length: int, size: int = 32) -> None:
        self.data = torch.randn(length, size, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.data[index]


@dataclasses.dataclass
class TraceConfig:
    """What the hooked model does; one instance per trace scenario."""

    train_batches: int = 2
    val_batches: int = 2
    val_loaders: int = 1
    manual: bool = False
    scheduler_interval: str | None = "epoch"  # None: no scheduler
    optional_hooks: bool = True  # override prepare_data / configure_model / on_*_model_train
    step_returns_none: bool = False
    skip_rest_at: int | None = None  # on_train_batch_start returns -1 at this batch_idx
    stop_at_step: int | None = None  # on_train_batch_end sets trainer.should_stop at this step


def hooked_classes(namespace: Any, config: TraceConfig) -> tuple[list[str], type, type]:
    """``(calls, HookedModel, HookedCallback)`` built on ``namespace``'s base classes."""
    calls: list[str] = []

    class HookedCallback(namespace.Callback):
        pass

    for name in CALLBACK_HOOKS:
        setattr(HookedCallback, name, _recorder(calls, HookedCallback, name, f"CB.{name}", 2))

    class HookedModel(namespace.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(32, 2)
            if config.manual:
                self.automatic_optimization = False

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layer(x)

        def _loss(self, batch: torch.Tensor) -> torch.Tensor:
            out = self(batch)
            return torch.nn.functional.mse_loss(out, torch.ones_like(out))

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            if config.manual:
                opt = self.optimizers()
                opt.zero_grad()
                loss = self._loss(batch)
                self.manual_backward(loss)
                opt.step()
                return {"loss": loss}
            if config.step_returns_none:
                return None
            return {"loss": self._loss(batch)}

        def on_train_batch_start(self, batch: Any, batch_idx: int) -> Any:
            return -1 if batch_idx == config.skip_rest_at else None

        def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
            if self.trainer.global_step == config.stop_at_step:
                self.trainer.should_stop = True

        def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
            return {"x": self._loss(batch)}

        def test_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
            return {"y": self._loss(batch)}

        def configure_optimizers(self) -> Any:
            optimizer = torch.optim.SGD(self.layer.parameters(), lr=0.1)
            if config.scheduler_interval is None:
                return optimizer
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": config.scheduler_interval},
            }

        def train_dataloader(self) -> Any:
            return DataLoader(RandomDataset(config.train_batches))

        def _eval_loaders(self) -> Any:
            loaders = [
                DataLoader(RandomDataset(config.val_batches)) for _ in range(config.val_loaders)
            ]
            return loaders[0] if config.val_loaders == 1 else loaders

        def val_dataloader(self) -> Any:
            return self._eval_loaders()

        def test_dataloader(self) -> Any:
            return self._eval_loaders()

        def predict_dataloader(self) -> Any:
            return self._eval_loaders()

    for name in MODULE_HOOKS:
        if not config.optional_hooks and name in OPTIONAL_MODULE_HOOKS:
            continue
        setattr(HookedModel, name, _recorder(calls, HookedModel, name, name, 0))
    return calls, HookedModel, HookedCallback


def _recorder(calls: list[str], owner: type, name: str, label: str, strip: int) -> Any:
    """A method for ``owner.name`` that records its entry, then runs the original body."""
    original = owner.__dict__.get(name)

    def hook(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(render(label, args[strip:], kwargs))
        if original is not None:
            return original(self, *args, **kwargs)
        return getattr(super(owner, self), name)(*args, **kwargs)

    hook.__name__ = name
    hook.__qualname__ = f"{owner.__qualname__}.{name}"
    return hook


DATAMODULE_HOOKS = (
    "prepare_data",
    "setup",
    "teardown",
    "train_dataloader",
    "val_dataloader",
    "test_dataloader",
    "predict_dataloader",
    "on_before_batch_transfer",
    "transfer_batch_to_device",
    "on_after_batch_transfer",
    "state_dict",
    "load_state_dict",
)


def hooked_datamodule(namespace: Any, calls: list[str], config: TraceConfig) -> type:
    """A LightningDataModule recording its hooks as ``DM.<hook>`` into ``calls``."""

    class HookedDataModule(namespace.LightningDataModule):
        def train_dataloader(self) -> Any:
            return DataLoader(RandomDataset(config.train_batches))

        def _eval_loaders(self) -> Any:
            loaders = [
                DataLoader(RandomDataset(config.val_batches)) for _ in range(config.val_loaders)
            ]
            return loaders[0] if config.val_loaders == 1 else loaders

        def val_dataloader(self) -> Any:
            return self._eval_loaders()

        def test_dataloader(self) -> Any:
            return self._eval_loaders()

        def predict_dataloader(self) -> Any:
            return self._eval_loaders()

        def prepare_data(self) -> None:
            pass

    for name in DATAMODULE_HOOKS:
        setattr(HookedDataModule, name, _recorder(calls, HookedDataModule, name, f"DM.{name}", 0))
    return HookedDataModule
