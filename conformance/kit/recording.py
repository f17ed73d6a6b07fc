"""Hook recorders: subclasses of the *target's* classes that write each hook call into a trace.

Recording uses public overrides only. At run time we subclass the target's ``LightningModule``
(``recording_module``), ``Callback`` (``recording_callback``) and ``LightningDataModule``
(``recording_datamodule``); every hook of the 2.x contract (``conformance.spec.hooks``) is
overridden to append one event **on entry**, then call ``super()``. The hook list is the contract's,
not the target's: a target that never calls a hook shows up as a missing event, and a target whose
base class lacks a hook gets a neutral stand-in (return the batch for batch hooks, ``None`` else).

Events look like ``"M.training_step(batch_idx=1)"``, ``"CB0.on_train_batch_start(batch_idx=1)"``,
``"DM.setup(stage=fit)"`` (``conformance.spec.hooks.event``), so the target's trace and the
executable spec's trace compare line by line, and :func:`trace_diff` shows where they part.
The workload the hook clauses record, and the helpers that run a spec configuration on these
recorders, are in :mod:`conformance.kit.hook_workload`.

Decisions worth knowing:

* **Conditional hooks are expected.** Lightning calls ``prepare_data``, ``configure_model`` and
  ``on_{validation,test}_model_train`` only when they are overridden (facts §1.12). The recorder
  overrides them, so they are called, and the spec expects them. A trainer that calls them
  unconditionally produces the same trace.
* **User methods are wrapped only where the user defined them** (``USER_METHODS``: steps,
  dataloaders, ``configure_optimizers``) because their presence changes what a trainer does.
* **No nested-call noise.** ``forward``, ``zero_grad``, ``train``, ``clip_gradients`` and
  ``manual_backward`` are not hooks and are not recorded; mode and grad state are checked by other
  clauses directly.
* **Signatures.** Trainers inspect hook signatures (e.g. whether ``validation_step`` takes
  ``dataloader_idx``), so every wrapper carries the contract's signature (``__signature__``), or
  the user's own signature for user methods.
* **Stateful recorders.** Recording callbacks and datamodules return a non-empty ``state_dict``
  (``{"recorder": name}`` merged into their parent's), so checkpoint saving and restoring call
  their ``state_dict`` / ``load_state_dict``. Each recording callback class gets its own name, so
  their default ``state_key`` values stay distinct.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from conformance.spec.hooks import (
    BATCH_TRANSFER_HOOKS,
    CALLBACK_HOOKS,
    CALLBACK_STATE_METHODS,
    DATAMODULE_HOOKS,
    MODULE_HOOKS,
    USER_METHODS,
    event,
    parameters,
    shown_arguments,
)
from conformance.spec.trace import Trace, trace_diff
from conformance.target import Target

__all__ = [
    "Trace",
    "trace_diff",
    "recording_module",
    "recording_callback",
    "recording_callback_class",
    "recording_datamodule",
    "monitoring_callback_base",
    "RECORDER_STATE_KEY",
]

RECORDER_STATE_KEY = "recorder"


def _neutral_result(hook: str, args: tuple[Any, ...]) -> Any:
    """What a hook the target's base class lacks returns: the batch for batch hooks, else None."""
    if hook in BATCH_TRANSFER_HOOKS and args:
        return args[0]
    if hook == "state_dict":
        return {}
    return None


def _recording_method(
    owner: str,
    hook: str,
    spec: str,
    trace: Trace,
    cls_cell: list[type],
    *,
    leading: int = 0,
    signature: inspect.Signature | None = None,
) -> Callable[..., Any]:
    """A method that records ``owner.hook(...)`` on entry, then delegates to ``super()``.

    ``leading`` is the number of positional arguments before the hook's own (2 for a callback's
    ``trainer, pl_module``), which are not part of ``spec``.
    """

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        own = args[leading:]
        trace.record(event(owner, hook, **shown_arguments(spec, own, kwargs)))
        parent = getattr(super(cls_cell[0], self), hook, None)
        if parent is None:
            return _neutral_result(hook, own)
        return parent(*args, **kwargs)

    method.__name__ = method.__qualname__ = hook
    method.__signature__ = signature or parameters(spec)  # type: ignore[attr-defined]
    return method


def _stateful(owner: str, method: Callable[..., Any], hook: str) -> Callable[..., Any]:
    """Make a recorder's ``state_dict`` non-empty and strip that marker again on load."""
    if hook == "state_dict":

        def state_dict(self: Any) -> dict[str, Any]:
            state = method(self)
            return {**(state or {}), RECORDER_STATE_KEY: owner}

        state_dict.__signature__ = method.__signature__  # type: ignore[attr-defined]
        return state_dict
    if hook == "load_state_dict":

        def load_state_dict(self: Any, state_dict: Mapping[str, Any], *args: Any) -> Any:
            state = {k: v for k, v in state_dict.items() if k != RECORDER_STATE_KEY}
            return method(self, state, *args)

        load_state_dict.__signature__ = method.__signature__  # type: ignore[attr-defined]
        return load_state_dict
    return method


def _build(base: type, class_name: str, methods: Callable[[list[type]], dict[str, Any]]) -> type:
    cls_cell: list[type] = []
    namespace = methods(cls_cell)
    namespace["__qualname__"] = class_name
    namespace["__module__"] = __name__
    cls = type(class_name, (base,), namespace)
    cls_cell.append(cls)
    return cls


def _defines(base: type, parent: type | None, name: str) -> bool:
    """Whether ``base`` (a user's class) defines ``name`` rather than inheriting the default."""
    mine = getattr(base, name, None)
    return mine is not None and (parent is None or mine is not getattr(parent, name, None))


def recording_module(target: Target, base_cls: type, trace: Trace, name: str = "M") -> type:
    """A subclass of ``base_cls`` (itself a subclass of ``target.LightningModule``) that records."""
    if not issubclass(base_cls, target.LightningModule):
        raise TypeError(
            f"{base_cls.__qualname__} is not a subclass of the target's LightningModule "
            f"({target.LightningModule.__module__}.{target.LightningModule.__qualname__})"
        )

    def methods(cell: list[type]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for hook, spec in MODULE_HOOKS.items():
            signature = None
            if hook in USER_METHODS:
                if not _defines(base_cls, target.LightningModule, hook):
                    continue
                signature = inspect.signature(getattr(base_cls, hook))
            out[hook] = _recording_method(name, hook, spec, trace, cell, signature=signature)
        return out

    return _build(base_cls, f"Recording{base_cls.__name__}", methods)


def recording_callback_class(
    target: Target, trace: Trace, name: str = "CB0", base: type | None = None
) -> type:
    """A recording subclass of ``base`` (default: ``target.Callback``) whose events say ``name``.

    ``base`` may be any subclass of the target's ``Callback``, e.g. its ``EarlyStopping`` (see
    :func:`monitoring_callback_base`). The class is named after ``name`` so that two recording
    callbacks never share a default ``state_key``.
    """
    base = base or target.Callback
    if not issubclass(base, target.Callback):
        raise TypeError(f"{base.__qualname__} is not a subclass of the target's Callback")

    def methods(cell: list[type]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for hook, spec in CALLBACK_HOOKS.items():
            signature = parameters(f"trainer, pl_module, {spec}" if spec else "trainer, pl_module")
            out[hook] = _recording_method(
                name, hook, spec, trace, cell, leading=2, signature=signature
            )
        for hook, spec in CALLBACK_STATE_METHODS.items():
            out[hook] = _stateful(name, _recording_method(name, hook, spec, trace, cell), hook)
        return out

    return _build(base, f"Recording{base.__name__}_{name}", methods)


def recording_callback(
    target: Target,
    trace: Trace,
    name: str = "CB0",
    base: type | None = None,
    **init_kwargs: Any,
) -> Any:
    """An instance of :func:`recording_callback_class`, built with ``init_kwargs``."""
    return recording_callback_class(target, trace, name, base)(**init_kwargs)


def recording_datamodule(
    target: Target,
    base_cls: type,
    trace: Trace,
    name: str = "DM",
    *,
    batch_transfer: bool = True,
) -> type:
    """A recording subclass of ``base_cls`` (a subclass of ``target.LightningDataModule``).

    With ``batch_transfer=True`` the DataModule also overrides the three batch-transfer hooks,
    which (in Lightning 2.x) makes the trainer call the DataModule's instead of the module's.
    """
    parent = target.LightningDataModule
    if parent is None:
        raise TypeError(f"target {target.spec!r} has no LightningDataModule")
    if not issubclass(base_cls, parent):
        raise TypeError(f"{base_cls.__qualname__} is not a subclass of the target's DataModule")
    hooks = {**DATAMODULE_HOOKS, **(BATCH_TRANSFER_HOOKS if batch_transfer else {})}

    def methods(cell: list[type]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for hook, spec in hooks.items():
            signature = None
            if hook.endswith("_dataloader"):
                if not _defines(base_cls, parent, hook):
                    continue
                signature = inspect.signature(getattr(base_cls, hook))
            method = _recording_method(name, hook, spec, trace, cell, signature=signature)
            out[hook] = _stateful(name, method, hook)
        return out

    return _build(base_cls, f"Recording{base_cls.__name__}", methods)


def monitoring_callback_base(target: Target) -> tuple[type, dict[str, Any]] | None:
    """The target's "monitoring" callback class and neutral constructor arguments, if it has one.

    Lightning runs ``on_train_epoch_end`` of monitoring callbacks (``EarlyStopping`` and
    ``Checkpoint`` subclasses) after the module's (facts §1.1). We use the target's
    ``EarlyStopping`` — it keeps its place in the callback list, whereas Lightning moves
    checkpoint callbacks to the end — watching a metric nobody logs, non-strictly, so it never
    stops training or raises.
    """
    namespace = getattr(target.namespace, "callbacks", None)
    early_stopping = getattr(namespace, "EarlyStopping", None) or getattr(
        target.namespace, "EarlyStopping", None
    )
    if early_stopping is None or not issubclass(early_stopping, target.Callback):
        return None
    return early_stopping, {"monitor": "trainspec_unlogged_metric", "strict": False}
