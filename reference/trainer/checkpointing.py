"""Checkpoints in the trainer: what one holds, which file a run uses, and restoring it.

Saving (``Trainer.save_checkpoint``) builds Lightning's dict (facts §3.1): ``epoch``,
``global_step``, ``pytorch-lightning_version``, ``state_dict``, ``loops``; unless
``weights_only``: ``callbacks``, ``optimizer_states``, ``lr_schedulers``, the precision plugin's
state and the RNG states (``exact_resume``); then hyperparameters and the datamodule's state.
The hooks run in Lightning's order: every callback's ``state_dict``, the datamodule's
``state_dict``, every callback's ``on_save_checkpoint``, the module's ``on_save_checkpoint``.

Restoring happens at two points of a run (facts §3.4), each one call from ``Trainer._run``:

1. after ``setup``/``configure_model``, before ``configure_optimizers``: the module
   (``on_load_checkpoint``, then its weights), the datamodule, the callbacks
   (``on_load_checkpoint`` for all, then ``load_state_dict``);
2. after ``on_fit_start``: the precision plugin, the loop counters (and so the resume position),
   the optimizers and LR schedulers.
"""

from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING, Any

from reference.core.saving import load_module_weights
from reference.trainer.loop_state import load_loop, loops_state_dict, resume_point
from reference.trainer.states import TrainerFn
from reference.utilities import rng
from reference.utilities.checkpoint_io import atomic_save, describe, load_checkpoint
from reference.utilities.exceptions import MisconfigurationException
from reference.utilities.warnings import info, warn

if TYPE_CHECKING:
    from reference.trainer.trainer import Trainer

# the Lightning checkpoint format written here (Lightning applies no migration to it)
LIGHTNING_FORMAT_VERSION = "2.6.0"
REFERENCE_VERSION_KEY = "trainspec-reference_version"
EXACT_RESUME_KEY = "exact_resume"


class CheckpointConnector:
    """The trainer's checkpoint file of the current run, and the code that saves and restores."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.ckpt_path: str | None = None  # the file the current (or last) run restored
        self._pinned: str | None = None  # set by ``trainer.ckpt_path = ...``
        self._loaded: dict[str, Any] | None = None

    # ------------------------------------------------------------------- which file
    def pin(self, path: str | os.PathLike[str] | None) -> None:
        """``trainer.ckpt_path = path``: later runs use it until a run names another one."""
        self._pinned = os.fspath(path) if path else None
        self.ckpt_path = self._pinned

    def prepare(
        self,
        fn: TrainerFn,
        ckpt_path: Any,
        weights_only: bool | None,
        model_provided: bool,
        model_connected: bool,
    ) -> None:
        """Choose the run's checkpoint (facts §3.3) and read it now, before any hook runs, so a
        missing or bad file stops the run with a clear error naming it."""
        self._loaded = None
        self.trainer.fit_loop._resume = None  # a previous resume that ran no epoch is over
        if self._pinned and ckpt_path:
            warn(
                f"`trainer.ckpt_path = {self._pinned!r}` was set but then you passed"
                f" `trainer.{fn}(ckpt_path={ckpt_path!r})`. The latter will be loaded."
            )
            self._pinned = None
        elif self._pinned:
            ckpt_path = self._pinned
        path = self._resolve(str(fn), ckpt_path, model_provided, model_connected)
        self.ckpt_path = path
        if path is None:
            return
        info(f"Restoring states from the checkpoint path at {path}")
        self._loaded = load_checkpoint(path, weights_only=weights_only)

    def _resolve(
        self, fn: str, ckpt_path: Any, model_provided: bool, model_connected: bool
    ) -> str | None:
        trainer = self.trainer
        if ckpt_path is None:
            if model_provided or not model_connected:
                return None
            warn(
                f"`.{fn}(ckpt_path=None)` was called without a model. The best model of the"
                f" previous `fit` call will be used. You can pass `.{fn}(ckpt_path='best')` to use"
                f" the best model or `.{fn}(ckpt_path='last')` to use the last model. If you pass"
                " a value, this warning will be silenced."
            )
            ckpt_path = "best"
        if ckpt_path == "best":
            callback = trainer.checkpoint_callback
            if len(trainer.checkpoint_callbacks) > 1:
                warn(
                    f'`.{fn}(ckpt_path="best")` is called with Trainer configured with multiple'
                    " `ModelCheckpoint` callbacks. It will use the best checkpoint path from the"
                    " first checkpoint callback."
                )
            if callback is None:
                raise ValueError(
                    f'`.{fn}(ckpt_path="best")` is set but `ModelCheckpoint` is not configured.'
                )
            if not getattr(callback, "best_model_path", ""):
                if trainer.fast_dev_run:
                    raise ValueError(
                        f'You cannot execute `.{fn}(ckpt_path="best")` with `fast_dev_run=True`.'
                        f" Please pass an exact checkpoint path to `.{fn}(ckpt_path=...)`"
                    )
                raise ValueError(
                    f'`.{fn}(ckpt_path="best")` is set but `ModelCheckpoint` is not configured to'
                    " save the best model."
                )
            return callback.best_model_path
        if ckpt_path == "last":
            candidates = {
                path
                for callback in trainer.checkpoint_callbacks
                if hasattr(callback, "find_last_checkpoints")
                for path in callback.find_last_checkpoints(trainer)
            }
            if not candidates:
                warn(
                    f'.{fn}(ckpt_path="last") is set, but there is no last checkpoint available.'
                    " No checkpoint will be loaded."
                    " HINT: Set `ModelCheckpoint(..., save_last=True)`."
                )
                return None
            return max(candidates, key=os.path.getmtime)
        if ckpt_path in ("hpc", "registry") or str(ckpt_path).startswith("registry:"):
            raise ValueError(
                f"`.{fn}(ckpt_path={ckpt_path!r})`: HPC and model-registry checkpoints are not"
                " supported by the reference trainer; pass the path of a checkpoint file."
            )
        if isinstance(ckpt_path, (str, os.PathLike)):
            return os.fspath(ckpt_path)
        raise TypeError(
            f"`.{fn}(ckpt_path=...)` must be a path, 'best' or 'last'; got {ckpt_path!r}"
        )

    # ---------------------------------------------------------------------- saving
    def save(self, filepath: str | os.PathLike[str], weights_only: bool = False) -> None:
        trainer = self.trainer
        if trainer.lightning_module is None:
            raise AttributeError(
                "Saving a checkpoint is only possible if a model is attached to the Trainer. Did"
                " you call `Trainer.save_checkpoint()` before calling"
                " `Trainer.{fit,validate,test,predict}`?"
            )
        checkpoint = self.dump(weights_only)
        if trainer.is_global_zero:
            atomic_save(checkpoint, filepath)
        trainer.strategy.barrier("Trainer.save_checkpoint")

    def dump(self, weights_only: bool = False) -> dict[str, Any]:
        """The checkpoint dict of the trainer's current state (see the module docstring)."""
        checkpoint = self._collect(weights_only)
        self._call_save_hooks(checkpoint, weights_only)
        if not weights_only:  # taken last: the hooks may have drawn random numbers
            checkpoint[EXACT_RESUME_KEY] = {
                "rng_states": rng.capture(),
                "epoch_rng_states": self.trainer.fit_loop._epoch_rng_states,
            }
        return checkpoint

    def _collect(self, weights_only: bool) -> dict[str, Any]:
        """Everything but what the hooks add; the callbacks' and datamodule's ``state_dict``
        are called here (in this order, as in Lightning)."""
        import reference

        trainer = self.trainer
        module, datamodule = trainer.lightning_module, trainer.datamodule
        checkpoint: dict[str, Any] = {
            "epoch": trainer.current_epoch,
            "global_step": trainer.global_step,
            "pytorch-lightning_version": LIGHTNING_FORMAT_VERSION,
            REFERENCE_VERSION_KEY: reference.__version__,
            "state_dict": trainer.strategy.lightning_module_state_dict(),
            "loops": loops_state_dict(trainer),
        }
        if not weights_only:
            states = {}
            for callback in trainer.callbacks:  # every callback is asked, as in Lightning
                state = callback.state_dict()
                if state:
                    states[callback.state_key] = state
            checkpoint["callbacks"] = states
            checkpoint["optimizer_states"] = [
                trainer.strategy.optimizer_state(optimizer) for optimizer in trainer.optimizers
            ]
            checkpoint["lr_schedulers"] = [
                config.scheduler.state_dict() for config in trainer.lr_scheduler_configs
            ]
            precision = trainer.precision_plugin
            precision_state = precision.state_dict()
            if precision_state:
                checkpoint[type(precision).__qualname__] = precision_state
        for owner in (module, datamodule):
            if owner is not None and getattr(owner, "hparams", None):
                if hasattr(owner, "_hparams_name"):
                    checkpoint[owner.CHECKPOINT_HYPER_PARAMS_NAME] = owner._hparams_name
                checkpoint[owner.CHECKPOINT_HYPER_PARAMS_KEY] = dict(owner.hparams)
        if datamodule is not None:
            datamodule_state = trainer._hooks.datamodule("state_dict")
            if datamodule_state:
                checkpoint[type(datamodule).__qualname__] = datamodule_state
        return checkpoint

    def _call_save_hooks(self, checkpoint: dict[str, Any], weights_only: bool) -> None:
        """Callbacks' ``on_save_checkpoint`` (not for weights-only files), then the module's;
        both may add to ``checkpoint``."""
        hooks = self.trainer._hooks
        if not weights_only:
            hooks.callbacks("on_save_checkpoint", checkpoint)
        hooks.module("on_save_checkpoint", checkpoint)

    # -------------------------------------------------------------------- restoring
    def restore_modules_and_callbacks(self) -> None:
        """Restore point 1: module, datamodule, callbacks (module first: facts §1.1)."""
        checkpoint = self._loaded
        if checkpoint is None:
            return
        self._restore_module(checkpoint)
        self._restore_datamodule(checkpoint)
        self._restore_callbacks(checkpoint)

    def _restore_module(self, checkpoint: dict[str, Any]) -> None:
        module = self.trainer.lightning_module
        self.trainer._hooks.module("on_load_checkpoint", checkpoint)
        load_module_weights(
            module, checkpoint["state_dict"], str(self.ckpt_path), module.strict_loading
        )

    def _restore_datamodule(self, checkpoint: dict[str, Any]) -> None:
        datamodule = self.trainer.datamodule
        if datamodule is not None and type(datamodule).__qualname__ in checkpoint:
            self.trainer._hooks.datamodule(
                "load_state_dict", checkpoint[type(datamodule).__qualname__]
            )

    def _restore_callbacks(self, checkpoint: dict[str, Any]) -> None:
        trainer = self.trainer
        states = checkpoint.get("callbacks") or {}
        missing = sorted(set(states) - {callback.state_key for callback in trainer.callbacks})
        if missing:
            warn(
                "Be aware that when using `ckpt_path`, callbacks used to create the checkpoint"
                " need to be provided during `Trainer` instantiation. Please add the following"
                f" callbacks: {missing}."
            )
        trainer._hooks.callbacks("on_load_checkpoint", checkpoint)
        for callback in trainer.callbacks:
            state = states.get(callback.state_key)
            if state:
                callback.load_state_dict(copy.deepcopy(state))

    def restore_training_state(self) -> None:
        """Restore point 2: precision, loop counters, optimizers and schedulers; then the file
        is let go."""
        checkpoint, self._loaded = self._loaded, None
        if checkpoint is None:
            return
        trainer = self.trainer
        precision = trainer.precision_plugin
        if type(precision).__qualname__ in checkpoint:
            precision.load_state_dict(checkpoint[type(precision).__qualname__])
        loops = checkpoint.get("loops") or {}
        fn = trainer.state.fn
        if fn == TrainerFn.FITTING:
            self._restore_loops(checkpoint, loops.get("fit_loop"))
            self._check_training_state(checkpoint)
            self._restore_optimizers(checkpoint["optimizer_states"])
            self._restore_schedulers(checkpoint["lr_schedulers"])
            info(f"Restored all states from the checkpoint at {self.ckpt_path}")
            return
        loop = {
            TrainerFn.VALIDATING: ("validate_loop", trainer.validate_loop),
            TrainerFn.TESTING: ("test_loop", trainer.test_loop),
            TrainerFn.PREDICTING: ("predict_loop", trainer.predict_loop),
        }.get(fn)
        if loop is not None:
            load_loop(loop[1], loops.get(loop[0]))
        info(f"Loaded model weights from the checkpoint at {self.ckpt_path}")

    def _restore_loops(self, checkpoint: dict[str, Any], fit_state: dict[str, Any] | None) -> None:
        """The fit loop's counters, and from them where training continues."""
        trainer, fit_loop = self.trainer, self.trainer.fit_loop
        load_loop(fit_loop, fit_state)
        if fit_loop.max_epochs not in (None, -1) and trainer.current_epoch > fit_loop.max_epochs:
            raise MisconfigurationException(
                f"You restored a checkpoint with current_epoch={trainer.current_epoch}, but you"
                f" have set Trainer(max_epochs={fit_loop.max_epochs})."
            )
        fit_loop._resume = resume_point(fit_loop, checkpoint.get(EXACT_RESUME_KEY))

    def _check_training_state(self, checkpoint: dict[str, Any]) -> None:
        name = describe(str(self.ckpt_path))
        for key in ("optimizer_states", "lr_schedulers"):
            if key not in checkpoint:
                raise KeyError(
                    f"Trying to restore the training state from {name}, but it holds only the"
                    f" model ({key!r} is missing). This is probably due to"
                    " `ModelCheckpoint.save_weights_only` being set to `True`."
                )
        saved, made = len(checkpoint["optimizer_states"]), len(self.trainer.optimizers)
        if saved != made:
            raise ValueError(
                f"{name} holds {saved} optimizer state(s), but configure_optimizers returned"
                f" {made} optimizer(s)"
            )

    def _restore_optimizers(self, states: list[dict[str, Any]]) -> None:
        trainer = self.trainer
        for index, (optimizer, state) in enumerate(zip(trainer.optimizers, states)):
            try:
                optimizer.load_state_dict(state)
            except (ValueError, KeyError) as exc:  # torch's message names neither side
                raise ValueError(
                    f"The state of optimizer {index} in {describe(str(self.ckpt_path))} does not"
                    f" fit the {type(optimizer).__name__} configure_optimizers returned (was it"
                    f" saved with different parameter groups or another optimizer?): {exc}"
                ) from exc
        trainer.strategy._optimizers_to_device()

    def _restore_schedulers(self, states: list[dict[str, Any]]) -> None:
        for config, state in zip(self.trainer.lr_scheduler_configs, states):
            config.scheduler.load_state_dict(state)
