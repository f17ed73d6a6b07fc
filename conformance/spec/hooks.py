"""The hook vocabulary of the Lightning 2.x contract, and the one way a hook call is written down.

Both sides of a hook-order comparison use this module: the recorder (``conformance.kit.recording``)
overrides exactly these hooks on the target's classes, and the executable spec emits events with
:func:`event`, so the two traces are spelled identically by construction.

Where the lists come from:

* ``MODULE_HOOKS`` — the LightningModule methods of seed 002's "Hooks" pseudocode and API list, plus
  the ones Lightning 2.x calls that the page does not list (``lr_scheduler_step``,
  ``on_validation_model_zero_grad``, ``on_predict_model_eval``). Plain ``nn.Module`` methods that
  Lightning happens to call (``forward``, ``zero_grad``, ``train``) and helpers that hooks call
  (``clip_gradients``, ``manual_backward``) are not hooks: they would only add nested-call noise.
* ``CALLBACK_HOOKS`` / ``CALLBACK_STATE_METHODS`` — the ``Callback`` hooks Lightning 2.x calls.
* ``DATAMODULE_HOOKS`` — the ``LightningDataModule`` hooks.

Each entry maps a hook to its parameters (after ``self``; for callback hooks also after
``trainer, pl_module``), written like a ``def`` line. ``USER_METHODS`` are the methods a user
*implements* (steps, dataloaders, ``configure_optimizers``): whether they exist changes what a
trainer does (no ``validation_step`` → no validation), so a recorder wraps them only where the
user's class defines them.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Mapping
from enum import Enum
from typing import Any

MODULE_HOOKS: dict[str, str] = {
    # entry points and setup
    "configure_callbacks": "",
    "prepare_data": "",
    "setup": "stage",
    "configure_model": "",
    "configure_optimizers": "",
    "teardown": "stage",
    # dataloaders
    "train_dataloader": "",
    "val_dataloader": "",
    "test_dataloader": "",
    "predict_dataloader": "",
    # run / epoch / batch boundaries
    "on_fit_start": "",
    "on_fit_end": "",
    "on_train_start": "",
    "on_train_end": "",
    "on_validation_start": "",
    "on_validation_end": "",
    "on_test_start": "",
    "on_test_end": "",
    "on_predict_start": "",
    "on_predict_end": "",
    "on_train_epoch_start": "",
    "on_train_epoch_end": "",
    "on_validation_epoch_start": "",
    "on_validation_epoch_end": "",
    "on_test_epoch_start": "",
    "on_test_epoch_end": "",
    "on_predict_epoch_start": "",
    "on_predict_epoch_end": "",
    "on_train_batch_start": "batch, batch_idx",
    "on_train_batch_end": "outputs, batch, batch_idx",
    "on_validation_batch_start": "batch, batch_idx, dataloader_idx=0",
    "on_validation_batch_end": "outputs, batch, batch_idx, dataloader_idx=0",
    "on_test_batch_start": "batch, batch_idx, dataloader_idx=0",
    "on_test_batch_end": "outputs, batch, batch_idx, dataloader_idx=0",
    "on_predict_batch_start": "batch, batch_idx, dataloader_idx=0",
    "on_predict_batch_end": "outputs, batch, batch_idx, dataloader_idx=0",
    # batch transfer
    "on_before_batch_transfer": "batch, dataloader_idx",
    "transfer_batch_to_device": "batch, device, dataloader_idx",
    "on_after_batch_transfer": "batch, dataloader_idx",
    # steps
    "training_step": "batch, batch_idx",
    "validation_step": "batch, batch_idx, dataloader_idx=0",
    "test_step": "batch, batch_idx, dataloader_idx=0",
    "predict_step": "batch, batch_idx, dataloader_idx=0",
    # optimization
    "on_before_zero_grad": "optimizer",
    "optimizer_zero_grad": "epoch, batch_idx, optimizer",
    "on_before_backward": "loss",
    "backward": "loss, *args, **kwargs",
    "on_after_backward": "",
    "on_before_optimizer_step": "optimizer",
    "configure_gradient_clipping": (
        "optimizer, gradient_clip_val=None, gradient_clip_algorithm=None"
    ),
    "optimizer_step": "epoch, batch_idx, optimizer, optimizer_closure=None",
    "lr_scheduler_step": "scheduler, metric",
    # train/eval mode around evaluation
    "on_validation_model_zero_grad": "",
    "on_validation_model_eval": "",
    "on_validation_model_train": "",
    "on_test_model_eval": "",
    "on_test_model_train": "",
    "on_predict_model_eval": "",
    # checkpoints
    "on_save_checkpoint": "checkpoint",
    "on_load_checkpoint": "checkpoint",
}

USER_METHODS: frozenset[str] = frozenset(
    {
        "training_step",
        "validation_step",
        "test_step",
        "predict_step",
        "configure_optimizers",
        "train_dataloader",
        "val_dataloader",
        "test_dataloader",
        "predict_dataloader",
    }
)

# Callback hooks: parameters after ``(trainer, pl_module)``.
CALLBACK_HOOKS: dict[str, str] = {
    "setup": "stage",
    "teardown": "stage",
    "on_fit_start": "",
    "on_fit_end": "",
    "on_sanity_check_start": "",
    "on_sanity_check_end": "",
    "on_train_start": "",
    "on_train_end": "",
    "on_validation_start": "",
    "on_validation_end": "",
    "on_test_start": "",
    "on_test_end": "",
    "on_predict_start": "",
    "on_predict_end": "",
    "on_train_epoch_start": "",
    "on_train_epoch_end": "",
    "on_validation_epoch_start": "",
    "on_validation_epoch_end": "",
    "on_test_epoch_start": "",
    "on_test_epoch_end": "",
    "on_predict_epoch_start": "",
    "on_predict_epoch_end": "",
    "on_train_batch_start": "batch, batch_idx",
    "on_train_batch_end": "outputs, batch, batch_idx",
    "on_validation_batch_start": "batch, batch_idx, dataloader_idx=0",
    "on_validation_batch_end": "outputs, batch, batch_idx, dataloader_idx=0",
    "on_test_batch_start": "batch, batch_idx, dataloader_idx=0",
    "on_test_batch_end": "outputs, batch, batch_idx, dataloader_idx=0",
    "on_predict_batch_start": "batch, batch_idx, dataloader_idx=0",
    "on_predict_batch_end": "outputs, batch, batch_idx, dataloader_idx=0",
    "on_before_zero_grad": "optimizer",
    "on_before_backward": "loss",
    "on_after_backward": "",
    "on_before_optimizer_step": "optimizer",
    "on_save_checkpoint": "checkpoint",
    "on_load_checkpoint": "checkpoint",
    "on_exception": "exception",
}

# Callback methods called without ``(trainer, pl_module)``.
CALLBACK_STATE_METHODS: dict[str, str] = {"state_dict": "", "load_state_dict": "state_dict"}

DATAMODULE_HOOKS: dict[str, str] = {
    "prepare_data": "",
    "setup": "stage",
    "teardown": "stage",
    "train_dataloader": "",
    "val_dataloader": "",
    "test_dataloader": "",
    "predict_dataloader": "",
    "state_dict": "",
    "load_state_dict": "state_dict",
    "on_exception": "exception",
}

# A DataModule's batch-transfer hooks replace the LightningModule's when it defines them.
BATCH_TRANSFER_HOOKS: dict[str, str] = {
    name: MODULE_HOOKS[name]
    for name in ("on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer")
}

# The arguments worth showing in an event: enough to tell which batch, loader, stage or epoch a
# call was for, so that a diff pinpoints the breach. Tensors, outputs and optimizers are left out.
SHOWN_ARGUMENTS: tuple[str, ...] = ("stage", "epoch", "batch_idx", "dataloader_idx")


def parameters(spec: str) -> inspect.Signature:
    """An ``inspect.Signature`` (with ``self`` first) for a parameter line such as ``"a, b=0"``."""
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for item in filter(None, (part.strip() for part in spec.split(","))):
        if item.startswith("**"):
            params.append(inspect.Parameter(item[2:], inspect.Parameter.VAR_KEYWORD))
        elif item.startswith("*"):
            params.append(inspect.Parameter(item[1:], inspect.Parameter.VAR_POSITIONAL))
        else:
            name, _, default = item.partition("=")
            value = ast.literal_eval(default) if default else inspect.Parameter.empty
            params.append(
                inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=value)
            )
    return inspect.Signature(params)


def shown_arguments(spec: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`SHOWN_ARGUMENTS` of one call, matched to the names in ``spec`` by position.

    Lenient on purpose: a trainer that passes too few or extra arguments still gets an event (the
    missing value simply is not shown), so the breach appears in the trace diff instead of as a
    crash inside the recorder.
    """
    names = [
        part.strip()
        for part in spec.split(",")
        if part.strip() and not part.strip().startswith("*")
    ]
    bound = {name.partition("=")[0]: value for name, value in zip(names, args)}
    bound.update(kwargs)
    return {name: bound[name] for name in SHOWN_ARGUMENTS if name in bound}


def _show(value: Any) -> str:
    if isinstance(value, Enum):  # e.g. a str-enum stage such as TrainerFn.FITTING
        value = value.value
    return str(value)


def event(owner: str, hook: str, **arguments: Any) -> str:
    """One trace line: ``"CB0.on_train_batch_start(batch_idx=1)"``, ``"M.setup(stage=fit)"``.

    ``dataloader_idx=0`` is left out (it is the default and, with one dataloader, trainers do not
    pass it), so it only appears for the second and later dataloaders.
    """
    shown = [
        f"{name}={_show(arguments[name])}"
        for name in SHOWN_ARGUMENTS
        if name in arguments
        and arguments[name] is not None
        and not (name == "dataloader_idx" and arguments[name] == 0)
    ]
    return f"{owner}.{hook}({', '.join(shown)})"
