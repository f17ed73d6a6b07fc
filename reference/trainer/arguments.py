"""Checking what ``fit``/``validate``/``test``/``predict`` were called with."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reference.datamodule import LightningDataModule
from reference.module import LightningModule
from reference.utilities.exceptions import MisconfigurationException

if TYPE_CHECKING:
    from reference.trainer.trainer import Trainer


def check_model(model: Any, fn: str) -> None:
    if not isinstance(model, LightningModule):
        raise TypeError(
            f"`Trainer.{fn}()` requires a `LightningModule`, got: {type(model).__qualname__}"
        )


def resolve_model(trainer: Trainer, model: Any, fn: str) -> Any:
    """The model given, or the one of the previous run (validate/test/predict may omit it)."""
    if model is None:
        if trainer.lightning_module is None:
            raise TypeError(
                f"`Trainer.{fn}()` requires a `LightningModule` when it hasn't been passed in a"
                " previous run"
            )
        return trainer.lightning_module
    check_model(model, fn)
    trainer.strategy.connect(model)
    return model


def fit_data(train: Any, val: Any, datamodule: Any) -> tuple[Any, Any, Any]:
    """A datamodule may be passed as ``train_dataloaders``; not together with dataloaders."""
    if isinstance(train, LightningDataModule):
        datamodule, train = train, None
    if (train is not None or val is not None) and datamodule is not None:
        raise MisconfigurationException(
            "You cannot pass `train_dataloader` or `val_dataloaders` to"
            " `trainer.fit(datamodule=...)`"
        )
    return train, val, datamodule


def eval_data(dataloaders: Any, datamodule: Any, fn: str) -> tuple[Any, Any]:
    """A datamodule may be passed as ``dataloaders``; not together with dataloaders."""
    if isinstance(dataloaders, LightningDataModule):
        datamodule, dataloaders = dataloaders, None
    if dataloaders is not None and datamodule is not None:
        raise MisconfigurationException(
            f"You cannot pass both `trainer.{fn}(dataloaders=..., datamodule=...)`"
        )
    return dataloaders, datamodule
