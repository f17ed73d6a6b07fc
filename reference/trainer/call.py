"""Hook dispatch: who is called for an event, in which order, with which arguments.

Rules (Lightning 2.6, facts §1.1):

* For an event, every callback that overrides the hook runs first (``trainer.callbacks`` order),
  then the LightningModule. Callback hooks get ``(trainer, pl_module, *args)``.
* ``on_train_epoch_end`` is the exception: monitoring callbacks (EarlyStopping, checkpoints) run
  after the module, so they see what it logged there.
* ``setup``/``teardown``: datamodule, then callbacks, then the module (``stage=`` by keyword).
* A hook set to ``None`` (or anything not callable) is skipped.

To keep per-batch dispatch cheap, :class:`Hooks` builds its tables once per run: callbacks that
do not override a hook are left out, and so is a module hook whose default does nothing and
that the user did not override. Neither omission can be observed. ``Hooks.live`` names the
events someone listens to; per-batch call sites test it (``if name in hooks.live``) before
dispatching, which saves a Python call per silent event per batch.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reference.callbacks.callback import Callback
from reference.callbacks.checkpoint import Checkpoint
from reference.callbacks.early_stopping import EarlyStopping
from reference.core.hooks import IDENTITY_BATCH_HOOKS, NOOP_MODULE_HOOKS
from reference.utilities.signature import is_overridden

if TYPE_CHECKING:
    from reference.trainer.trainer import Trainer

_MISSING = object()
CALLBACK_HOOKS = tuple(
    n for n, v in vars(Callback).items() if callable(v) and not n.startswith("_")
)
BATCH_HOOKS = ("on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer")


def _is_monitoring(callback: Callback) -> bool:
    return isinstance(callback, (EarlyStopping, Checkpoint))


class Hooks:
    """The dispatch tables of one run, and the name of the hook running now (for ``self.log``)."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.model: Any = None
        self.current_fx: str | None = None
        self._callbacks: dict[str, tuple] = {}
        self._module: dict[str, Any] = {}
        self._batch_owner: dict[str, Any] = {}
        self.clipping_is_noop = False
        self.live: frozenset[str] = frozenset()  # events with a listener (callback or override)
        self.default_batch_transfer = False  # no transfer hook overridden anywhere

    # ----------------------------------------------------------------------- table building
    def reset(self) -> None:
        """Forget the previous run's tables (they hold bound methods of its model)."""
        self._callbacks, self._module, self._batch_owner = {}, {}, {}
        self.model = self.trainer.lightning_module
        self.current_fx = None

    def bind(self, warn: bool = False) -> None:
        """(Re)build the tables from the current callbacks, module and datamodule."""
        from reference.module import LightningModule

        trainer = self.trainer
        callbacks = list(trainer.callbacks)
        table: dict[str, tuple] = {}
        for name in CALLBACK_HOOKS:
            bound = [getattr(cb, name) for cb in callbacks if is_overridden(name, cb, Callback)]
            table[name] = tuple(fn for fn in bound if callable(fn))
        epoch_end = table["on_train_epoch_end"]
        table["on_train_epoch_end/plain"] = tuple(
            fn for fn in epoch_end if not _is_monitoring(fn.__self__)
        )
        table["on_train_epoch_end/monitoring"] = tuple(
            fn for fn in epoch_end if _is_monitoring(fn.__self__)
        )
        self._callbacks = table

        model = self.model = trainer.lightning_module
        self._module = {}
        for name in NOOP_MODULE_HOOKS:
            if not is_overridden(name, model, LightningModule):
                self._module[name] = None
        self.live = frozenset(
            name
            for name in {*CALLBACK_HOOKS, *NOOP_MODULE_HOOKS}
            if table.get(name) or (name in NOOP_MODULE_HOOKS and name not in self._module)
        )
        self._bind_batch_hooks(model, warn)
        self.clipping_is_noop = (
            not trainer.gradient_clip_val
            and not is_overridden("configure_gradient_clipping", model, LightningModule)
            and not is_overridden("clip_gradients", model, LightningModule)
        )

    def _bind_batch_hooks(self, model: Any, warn: bool) -> None:
        """Who answers each transfer hook: the datamodule if it overrides it, else the module;
        an identity default that nobody overrode is skipped (None)."""
        from reference.datamodule import LightningDataModule
        from reference.module import LightningModule

        datamodule = self.trainer.datamodule
        self._batch_owner = {}
        any_overridden = False
        for name in BATCH_HOOKS:
            in_module = is_overridden(name, model, LightningModule)
            in_datamodule = datamodule is not None and is_overridden(
                name, datamodule, LightningDataModule
            )
            if warn and in_module and datamodule is not None:
                if in_datamodule:
                    message = (
                        f"You have overridden `{name}` in both `LightningModule` and"
                        " `LightningDataModule`. It will use the implementation from"
                        " `LightningDataModule` instance."
                    )
                else:
                    message = (
                        f"You have overridden `{name}` in `LightningModule` but have passed in a"
                        " `LightningDataModule`. It will use the implementation from"
                        " `LightningModule` instance."
                    )
                warnings.warn(message, stacklevel=4)
            overridden = in_module or in_datamodule
            any_overridden = any_overridden or overridden
            owner = datamodule if in_datamodule else model
            self._batch_owner[name] = (
                None
                if (name in IDENTITY_BATCH_HOOKS and not overridden)
                else getattr(owner, name, None)
            )
        self.default_batch_transfer = not any_overridden

    def _resolve(self, name: str) -> Any:
        """The module's hook ``name`` (None if it is not callable), cached until the next bind."""
        fn = getattr(self.model, name, None)
        fn = fn if callable(fn) else None
        self._module[name] = fn
        return fn

    # ---------------------------------------------------------------------------- dispatch
    # The three methods below are on the per-batch path: they are written out flat (no calls
    # to each other) because every Python call there costs a measurable part of a step.
    def callbacks(self, name: str, *args: Any) -> None:
        fns = self._callbacks.get(name)
        if fns:
            previous, self.current_fx = self.current_fx, name
            trainer, model = self.trainer, self.model
            for fn in fns:
                fn(trainer, model, *args)
            self.current_fx = previous

    def module(self, name: str, *args: Any, **kwargs: Any) -> Any:
        fn = self._module.get(name, _MISSING)
        if fn is _MISSING:
            fn = self._resolve(name)
        if fn is None:
            return None
        previous, self.current_fx = self.current_fx, name
        output = fn(*args, **kwargs)
        self.current_fx = previous
        return output

    def event(self, name: str, *args: Any) -> Any:
        """Callbacks, then the module; returns the module's result."""
        previous, self.current_fx = self.current_fx, name
        fns = self._callbacks.get(name)
        if fns:
            trainer, model = self.trainer, self.model
            for fn in fns:
                fn(trainer, model, *args)
        fn = self._module.get(name, _MISSING)
        if fn is _MISSING:
            fn = self._resolve(name)
        output = None if fn is None else fn(*args)
        self.current_fx = previous
        return output

    def train_epoch_end(self) -> None:
        """``on_train_epoch_end``: plain callbacks, the module, then monitoring callbacks."""
        name = "on_train_epoch_end"
        trainer, model = self.trainer, self.model
        previous, self.current_fx = self.current_fx, name
        for fn in self._callbacks.get("on_train_epoch_end/plain", ()):
            fn(trainer, model)
        self.module(name)
        self.current_fx = name
        for fn in self._callbacks.get("on_train_epoch_end/monitoring", ()):
            fn(trainer, model)
        self.current_fx = previous

    def strategy(self, name: str, *args: Any) -> Any:
        """A strategy method that runs user code (``training_step`` & co.): log under ``name``."""
        previous, self.current_fx = self.current_fx, name
        output = getattr(self.trainer.strategy, name)(*args)
        self.current_fx = previous
        return output

    def datamodule(self, name: str, *args: Any, **kwargs: Any) -> Any:
        datamodule = self.trainer.datamodule
        fn = getattr(datamodule, name, None) if datamodule is not None else None
        if not callable(fn):
            return None
        previous, self.current_fx = self.current_fx, name
        output = fn(*args, **kwargs)
        self.current_fx = previous
        return output

    def batch_hook(self, name: str, *args: Any) -> Any:
        """A batch-transfer hook, from the datamodule if it overrides it, else from the module."""
        fn = self._batch_owner.get(name, _MISSING)
        if fn is None:
            return args[0]  # an identity default that nobody overrode
        if fn is _MISSING:
            fn = getattr(self.model, name)
        previous, self.current_fx = self.current_fx, name
        output = fn(*args)
        self.current_fx = previous
        return output

    def configure_gradient_clipping(self, optimizer: Any) -> None:
        """Called every automatic optimizer step, even without clipping configured (facts §1.4).

        Callers skip the call when ``clipping_is_noop`` (default hooks, no clip value): the call
        would change nothing.
        """
        trainer = self.trainer
        self.module(
            "configure_gradient_clipping",
            optimizer,
            gradient_clip_val=trainer.gradient_clip_val,
            gradient_clip_algorithm=trainer.gradient_clip_algorithm,
        )


def setup(trainer: Trainer) -> None:
    """``setup(stage=...)``: datamodule → callbacks → module (facts §1.1)."""
    stage = trainer.state.fn
    module = trainer.lightning_module
    # the module may ask for self.device in setup, before it is moved (Lightning fakes it too)
    from reference.core.device_dtype import DeviceDtypeModuleMixin

    for submodule in module.modules():
        if isinstance(submodule, DeviceDtypeModuleMixin):
            submodule._device = trainer.strategy.root_device
    # loggers create their folders now, so that their paths exist in setup hooks
    for logger in trainer.loggers:
        if hasattr(logger, "experiment"):
            _ = logger.experiment
    hooks = trainer._hooks
    if trainer.datamodule is not None:
        hooks.datamodule("setup", stage=stage)
    _callbacks_kw(trainer, "setup", stage=stage)
    hooks.module("setup", stage=stage)


def teardown(trainer: Trainer) -> None:
    """``teardown(stage=...)`` in the same order as ``setup``; then loggers are finalized."""
    stage = trainer.state.fn
    hooks = trainer._hooks
    if trainer.datamodule is not None:
        hooks.datamodule("teardown", stage=stage)
    _callbacks_kw(trainer, "teardown", stage=stage)
    hooks.module("teardown", stage=stage)
    hooks.current_fx = None
    for logger in trainer.loggers:
        logger.finalize("success")


def _callbacks_kw(trainer: Trainer, name: str, **kwargs: Any) -> None:
    hooks = trainer._hooks
    previous, hooks.current_fx = hooks.current_fx, name
    for fn in hooks._callbacks.get(name, ()):
        fn(trainer, hooks.model, **kwargs)
    hooks.current_fx = previous


def configure_model(trainer: Trainer) -> None:
    """``configure_sharded_model``/``configure_model``: only called when overridden (facts
    §1.12).
    """
    from reference.module import LightningModule

    module = trainer.lightning_module
    strategy = trainer.strategy
    if is_overridden("configure_sharded_model", module, LightningModule):
        with strategy.model_sharded_context():
            trainer._hooks.module("configure_sharded_model")
    if is_overridden("configure_model", module, LightningModule):
        with (
            strategy.tensor_init_context(),
            strategy.model_sharded_context(),
            trainer.precision_plugin.module_init_context(),
        ):
            trainer._hooks.module("configure_model")


def run_and_handle_interrupt(trainer: Trainer, run: Callable[..., Any], *args: Any) -> Any:
    """Run an entry point; on any exception tell callbacks (``on_exception``) and clean up.

    As in Lightning, Ctrl+C shuts down gracefully and exits with status 1; any other exception
    propagates after the clean-up.
    """
    try:
        return run(*args)
    except KeyboardInterrupt as exception:
        print("\nDetected KeyboardInterrupt, attempting graceful shutdown ...", file=sys.stderr)
        interrupt(trainer, exception)
        trainer._teardown()
        sys.exit(1)
    except BaseException as exception:
        interrupt(trainer, exception)
        trainer._teardown()
        trainer.state.stage = None
        raise


def interrupt(trainer: Trainer, exception: BaseException) -> None:
    """A run failed: tell callbacks, the datamodule and the strategy; mark loggers as failed."""
    from reference.trainer.states import TrainerStatus

    trainer.state.status = TrainerStatus.INTERRUPTED
    hooks = trainer._hooks
    module = trainer.lightning_module
    for callback in trainer.callbacks:
        if is_overridden("on_exception", callback, Callback):
            callback.on_exception(trainer, module, exception)
    if trainer.datamodule is not None:
        hooks.datamodule("on_exception", exception)
    trainer.strategy.on_exception(exception)
    for logger in trainer.loggers:
        logger.finalize("failed")
