"""Trainer set-up that is not the loop itself: callbacks, loggers, data attachment, checks.

Kept apart from ``trainer.py`` and ``run.py`` so that the entry points and the run pipeline read
as the docs' pseudocode.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import torch

from reference.callbacks.callback import Callback
from reference.callbacks.checkpoint import Checkpoint
from reference.callbacks.model_checkpoint import ModelCheckpoint
from reference.callbacks.model_summary import ModelSummary
from reference.callbacks.progress import ProgressBar, TQDMProgressBar
from reference.loggers.csv_logs import CSVLogger
from reference.loggers.logger import DummyLogger, Logger
from reference.loggers.tensorboard import TensorBoardLogger, tensorboard_available
from reference.utilities.exceptions import MisconfigurationException
from reference.utilities.signature import is_overridden
from reference.utilities.warnings import PossibleUserWarning, info, warn

if TYPE_CHECKING:
    from reference.trainer.trainer import Trainer


# --------------------------------------------------------------------------------- callbacks
def reorder_callbacks(callbacks: list[Callback]) -> list[Callback]:
    """Checkpointing callbacks go last, so they see everything the others did (Lightning's
    order).
    """
    return [c for c in callbacks if not isinstance(c, Checkpoint)] + [
        c for c in callbacks if isinstance(c, Checkpoint)
    ]


def configure_callbacks(
    callbacks: Any,
    enable_progress_bar: bool,
    enable_model_summary: bool,
    enable_checkpointing: bool,
) -> list[Callback]:
    """The trainer's callback list: the user's, then the default progress bar, summary and
    ModelCheckpoint (checkpointing callbacks last)."""
    if callbacks is None:
        callbacks = []
    elif isinstance(callbacks, Callback):
        callbacks = [callbacks]
    elif isinstance(callbacks, Iterable):
        callbacks = list(callbacks)
    else:
        raise TypeError(f"`callbacks` should be a Callback or a list of them, got {callbacks!r}")
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(
                f"`callbacks` may only contain `Callback` instances, found {callback!r}"
            )
    bars = [c for c in callbacks if isinstance(c, ProgressBar)]
    if len(bars) > 1:
        raise MisconfigurationException(
            "You added multiple progress bar callbacks to the Trainer, but currently only one"
            " progress bar is supported."
        )
    if bars and not enable_progress_bar:
        raise MisconfigurationException(
            "Trainer was configured with `enable_progress_bar=False` but found"
            f" `{type(bars[0]).__name__}` in callbacks list."
        )
    if enable_progress_bar and not bars:
        callbacks.append(TQDMProgressBar())
    if enable_model_summary and not any(isinstance(c, ModelSummary) for c in callbacks):
        callbacks.append(ModelSummary())
    checkpoints = [c for c in callbacks if isinstance(c, Checkpoint)]
    if checkpoints and not enable_checkpointing:
        raise MisconfigurationException(
            "Trainer was configured with `enable_checkpointing=False` but found"
            f" `{type(checkpoints[0]).__name__}` in callbacks list."
        )
    if enable_checkpointing and not checkpoints:
        callbacks.append(ModelCheckpoint())
    return reorder_callbacks(callbacks)


def attach_model_callbacks(trainer: Trainer) -> None:
    """``configure_callbacks()``: its callbacks replace trainer callbacks of the same (parent)
    type.
    """
    model_callbacks = trainer._hooks.module("configure_callbacks")
    if not model_callbacks:
        return
    if not isinstance(model_callbacks, Sequence):
        model_callbacks = [model_callbacks]
    trainer_types = {type(c) for c in trainer.callbacks} - {Callback}
    overridden = set()
    for model_type in {type(c) for c in model_callbacks}:
        for trainer_type in trainer_types:
            if issubclass(model_type, trainer_type):
                overridden.add(trainer_type)
                break
    if overridden:
        info(
            "The following callbacks returned in `LightningModule.configure_callbacks` will"
            " override existing callbacks passed to Trainer:"
            f" {', '.join(sorted(t.__name__ for t in overridden))}"
        )
    kept = [c for c in trainer.callbacks if type(c) not in overridden]
    trainer.callbacks = reorder_callbacks(kept + list(model_callbacks))


def check_state_keys(callbacks: list[Callback]) -> None:
    """Two stateful callbacks must not share a ``state_key`` (their checkpoint entries would
    clash).
    """
    seen: set[str] = set()
    for callback in callbacks:
        if not is_overridden("state_dict", callback, Callback):
            continue
        key = callback.state_key
        if key in seen:
            raise RuntimeError(
                f"Found more than one stateful callback of type `{type(callback).__name__}`. In"
                " the current configuration, this callback does not support being saved"
                " alongside other instances of the same type. Please consult the documentation"
                f" of `{type(callback).__name__}` regarding valid settings for the callback state"
                " to be checkpointable."
            )
        seen.add(key)


# ----------------------------------------------------------------------------------- loggers
def configure_loggers(logger: Any, default_root_dir: str) -> list[Logger]:
    """``logger=True``/None → TensorBoardLogger if ``tensorboard`` is installed, else CSVLogger."""
    if logger is None or logger is True:
        if tensorboard_available():
            return [TensorBoardLogger(save_dir=default_root_dir)]
        warn(
            "`logger=True` will use `CSVLogger` as the default logger, unless the `tensorboard`"
            " package is installed."
        )
        return [CSVLogger(save_dir=default_root_dir)]
    if logger is False:
        return []
    if isinstance(logger, Logger):
        return [logger]
    if isinstance(logger, Iterable) and not isinstance(logger, (str, bytes)):
        loggers = list(logger)
        bad = [lg for lg in loggers if not isinstance(lg, Logger)]
        if bad:
            raise TypeError(f"`logger` may only contain `Logger` instances, found {bad[0]!r}")
        return loggers
    raise TypeError(f"`logger` should be a bool, a Logger or a list of Loggers, got {logger!r}")


def apply_fast_dev_run(trainer: Trainer, batches: int) -> None:
    """``fast_dev_run``: ``batches`` batches of everything, one epoch, no sanity check, quiet
    loggers (facts §2.10)."""
    trainer.limit_train_batches = trainer.limit_val_batches = batches
    trainer.limit_test_batches = trainer.limit_predict_batches = batches
    trainer.fit_loop.epoch_loop.max_steps = batches
    trainer.fit_loop.max_epochs = 1
    trainer.num_sanity_val_steps = 0
    trainer.val_check_interval = 1.0
    trainer.check_val_every_n_epoch = 1
    trainer.loggers = [DummyLogger()] if trainer.loggers else []


def log_hyperparams(trainer: Trainer) -> None:
    """Give every logger the module's (and datamodule's) initial hyperparameters and the graph.

    Only objects that called ``save_hyperparameters`` (which sets ``_log_hyperparams``) have
    hyperparameters to log, as in Lightning.
    """
    if not trainer.loggers or not trainer._enable_autolog_hparams:
        return
    module, datamodule = trainer.lightning_module, trainer.datamodule
    sources = [obj for obj in (module, datamodule) if getattr(obj, "_log_hyperparams", False)]
    hparams: dict[str, Any] | None = None
    for source in sources:
        hparams = hparams or {}
        for key, value in dict(source.hparams_initial).items():
            if key in hparams and hparams[key] != value:
                raise RuntimeError(
                    f"Error while merging hparams: the keys {[key]} are present in both the"
                    " LightningModule's and LightningDataModule's hparams but have different"
                    " values."
                )
            hparams[key] = value
    for logger in trainer.loggers:
        if hparams is not None:
            logger.log_hyperparams(hparams)
        logger.log_graph(module)
        logger.save()


# ------------------------------------------------------------------------------------- data
def attach_data(
    trainer: Trainer,
    model: Any,
    train: Any = None,
    val: Any = None,
    test: Any = None,
    predict: Any = None,
    datamodule: Any = None,
) -> None:
    """Point every loop at the dataloaders given, else the datamodule, else the module's hooks."""
    sources = {
        trainer.fit_loop: train,
        trainer.fit_loop.epoch_loop.val_loop: val,
        trainer.validate_loop: val,
        trainer.test_loop: test,
        trainer.predict_loop: predict,
    }
    for loop, given in sources.items():
        loop.dataloaders = None  # request them again in this run
        loop.source.instance = (
            datamodule if datamodule is not None else (given if given is not None else model)
        )
    trainer.datamodule = datamodule
    if datamodule is not None:
        datamodule.trainer = trainer
    model.trainer = trainer


def prepare_data(trainer: Trainer) -> None:
    """``prepare_data``: the datamodule's, then the module's; each only if overridden."""
    from reference.datamodule import LightningDataModule
    from reference.module import LightningModule

    datamodule = trainer.datamodule
    module = trainer.lightning_module
    if datamodule is not None and is_overridden("prepare_data", datamodule, LightningDataModule):
        if _should_prepare(trainer, datamodule):
            trainer._hooks.datamodule("prepare_data")
    if is_overridden("prepare_data", module, LightningModule) and _should_prepare(trainer, module):
        trainer._hooks.module("prepare_data")


def _should_prepare(trainer: Trainer, owner: Any) -> bool:
    if owner.prepare_data_per_node:
        return trainer.local_rank == 0
    return trainer.global_rank == 0


# ----------------------------------------------------------------------------- checks
def verify_loop_configuration(trainer: Trainer) -> None:
    """Clear errors before anything runs: missing steps, removed 1.x hooks, bad manual settings."""
    from reference.module import LightningModule

    module = trainer.lightning_module
    fn = trainer.state.fn
    name = type(module).__name__

    def removed(hook: str, replacement: str) -> None:
        if callable(getattr(module, hook, None)):
            raise NotImplementedError(
                f"Support for `{hook}` has been removed in v2.0.0. `{name}` implements this"
                f" method. You can use the `{replacement}` hook instead. To access outputs, save"
                " them in-memory as instance attributes."
            )

    if fn == "fit":
        for hook in ("training_step", "configure_optimizers"):
            if not is_overridden(hook, module, LightningModule):
                raise MisconfigurationException(
                    f"No `{hook}()` method defined. Lightning `Trainer` expects as minimum a"
                    " `training_step()`, `train_dataloader()` and `configure_optimizers()` to be"
                    " defined."
                )
        has_val_loader = trainer.fit_loop.epoch_loop.val_loop.source.is_defined()
        has_val_step = is_overridden("validation_step", module, LightningModule)
        if has_val_loader and not has_val_step:
            warn(
                "You passed in a `val_dataloader` but have no `validation_step`. Skipping val loop."
            )
        if has_val_step and not has_val_loader:
            warn(
                "You defined a `validation_step` but have no `val_dataloader`. Skipping val loop.",
                PossibleUserWarning,
            )
        removed("training_epoch_end", "on_train_epoch_end")
        removed("validation_epoch_end", "on_validation_epoch_end")
        if not module.automatic_optimization:
            if trainer.gradient_clip_val:
                raise MisconfigurationException(
                    "Automatic gradient clipping is not supported for manual optimization. Remove"
                    f" `Trainer(gradient_clip_val={trainer.gradient_clip_val})` or switch to"
                    " automatic optimization."
                )
            if trainer.accumulate_grad_batches != 1:
                raise MisconfigurationException(
                    "Automatic gradient accumulation is not supported for manual optimization."
                    f" Remove `Trainer(accumulate_grad_batches={trainer.accumulate_grad_batches})`"
                    " or switch to automatic optimization."
                )
    elif fn == "predict":
        if module.predict_step is None:
            raise MisconfigurationException(
                "`predict_step` cannot be None to run `Trainer.predict`"
            )
        if not is_overridden("predict_step", module, LightningModule) and not is_overridden(
            "forward", module, LightningModule
        ):
            raise MisconfigurationException("`Trainer.predict` requires `forward` method to run.")
    else:
        step = "validation_step" if fn == "validate" else "test_step"
        if not is_overridden(step, module, LightningModule):
            raise MisconfigurationException(f"No `{step}()` method defined to run `Trainer.{fn}`.")
        removed(
            "validation_epoch_end" if fn == "validate" else "test_epoch_end",
            "on_validation_epoch_end" if fn == "validate" else "on_test_epoch_end",
        )
    if is_overridden("configure_sharded_model", module, LightningModule):
        if is_overridden("configure_model", module, LightningModule):
            raise RuntimeError(
                f"Both `{name}.configure_model`, and `{name}.configure_sharded_model` are"
                " overridden. The latter is deprecated and it should be replaced with the former."
            )
        warnings.warn(
            f"You have overridden `{name}.configure_sharded_model` which is deprecated. Please"
            " override the `configure_model` hook instead.",
            DeprecationWarning,
            stacklevel=4,
        )


def set_torch_flags(deterministic: bool | str | None, benchmark: bool | None) -> None:
    """``deterministic``/``benchmark``: global torch settings, applied when the Trainer is built."""
    if deterministic:
        if benchmark is None:
            benchmark = False
        elif benchmark:
            warn(
                "You passed `deterministic=True` and `benchmark=True`. Note that PyTorch ignores"
                " torch.backends.cudnn.deterministic=True when"
                " torch.backends.cudnn.benchmark=True."
            )
    if benchmark is not None:
        torch.backends.cudnn.benchmark = benchmark
    if deterministic == "warn":
        torch.use_deterministic_algorithms(True, warn_only=True)
    elif isinstance(deterministic, bool):
        torch.use_deterministic_algorithms(deterministic)
    if deterministic:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
