"""HOOK-CKPT: the hooks around saving (``save_checkpoint``) and restoring (``fit(ckpt_path)``).

Saving: every callback's ``state_dict``, the DataModule's ``state_dict``, every callback's
``on_save_checkpoint``, then the module's ``on_save_checkpoint``. Restoring: the module's
``on_load_checkpoint`` first, then the DataModule's ``load_state_dict``, every callback's
``on_load_checkpoint``, then their ``load_state_dict`` -- after ``setup``/``configure_model`` and
before ``configure_optimizers`` (facts §1.1, §1.7, §3.4).
"""

from __future__ import annotations

import pytest

from conformance.kit.hook_workload import record_checkpoint_round_trip
from conformance.registry import clause, facts, seed
from conformance.spec import Calls, FitConfig, expected_trace
from conformance.spec.trace import assert_same_order, trace_diff
from conformance.target import Target

CHECKPOINT_HOOKS = seed(
    "002", "Hooks", "on_save_checkpoint / on_load_checkpoint (listed; no order is given)"
)
RESTORE = facts(
    "§3.4",
    "LightningModule.on_load_checkpoint(ckpt) → model.load_state_dict → "
    "datamodule.load_state_dict → Callback.on_load_checkpoint (all) → Callback.load_state_dict",
)
STATE_HOOKS = ("state_dict", "load_state_dict", "on_save_checkpoint", "on_load_checkpoint")


def resumable(target: Target, *, datamodule: bool = True) -> FitConfig:
    """Two plain callbacks (and a DataModule when the target has one); resumed after epoch 1."""
    return FitConfig(
        max_epochs=2, train_batches=2, val_batches=(1,), callbacks=("plain", "plain"),
        datamodule=datamodule and target.LightningDataModule is not None, resumed_from_epochs=1,
    )  # fmt: skip


@clause(
    "HOOK-CKPT-001",
    "save_checkpoint calls every callback's state_dict, the DataModule's state_dict, every "
    "callback's on_save_checkpoint, then the module's on_save_checkpoint",
    level="de-facto",
    source=facts(
        "§1.1",
        "Checkpoint saving: Callback.state_dict() for every callback ..., then "
        "Callback.on_save_checkpoint ... for every callback, then "
        "LightningModule.on_save_checkpoint(ckpt)",
    ),
    docs_say=CHECKPOINT_HOOKS,
)
def test_save_hook_order(target: Target) -> None:
    config = resumable(target)
    saved, _ = record_checkpoint_round_trip(target, config)
    calls = Calls(config.callbacks, datamodule=config.datamodule)
    calls.save_checkpoint()
    assert saved.events == calls.events, (
        "trainer.save_checkpoint must call exactly these hooks in this order\n"
        + trace_diff(calls.events, saved.events)
    )


@clause(
    "HOOK-CKPT-002",
    "fit(ckpt_path=...) calls the module's on_load_checkpoint, the DataModule's load_state_dict, "
    "every callback's on_load_checkpoint, then every callback's load_state_dict",
    level="de-facto",
    source=RESTORE,
    docs_say=CHECKPOINT_HOOKS,
)
def test_restore_hook_order(target: Target) -> None:
    config = resumable(target)
    _, resumed = record_checkpoint_round_trip(target, config)
    rule = "restoring must reach the module, then the DataModule, then the callbacks' hooks"
    assert_same_order(expected_trace(config), resumed.events, rule, hooks=STATE_HOOKS)


@clause(
    "HOOK-CKPT-003",
    "fit(ckpt_path=...) restores states after setup and configure_model and before "
    "configure_optimizers and on_fit_start",
    level="de-facto",
    source=(
        RESTORE,
        facts("§3.4", "before the model is moved to the device and before configure_optimizers"),
    ),
    docs_say=seed(
        "002", "Hooks", 'setup("fit") / configure_model() / configure_optimizers() / on_fit_start()'
    ),
)
def test_restore_between_configure_model_and_optimizers(target: Target) -> None:
    config = resumable(target, datamodule=False)
    _, resumed = record_checkpoint_round_trip(target, config)
    hooks = ("setup", "configure_model", "on_load_checkpoint", "configure_optimizers",
             "on_fit_start")  # fmt: skip
    rule = "on_load_checkpoint must come after setup/configure_model, before configure_optimizers"
    assert_same_order(expected_trace(config), resumed.events, rule, hooks=hooks, owners=("M",))


@clause(
    "HOOK-CKPT-004",
    "a fit resumed from the checkpoint of a finished fit runs the full hook sequence for the "
    "remaining epochs, with the epoch numbering continued",
    level="de-facto",
    source=facts(
        "§3.5",
        "End-of-epoch checkpoint ...: resume starts epoch 1 at batch_idx 0, "
        "on_train_epoch_start called ... Sanity check runs again",
    ),
    docs_say=seed("002", "Hooks", "for epoch in epochs: fit_loop()"),
)
@pytest.mark.parametrize("epochs", [(1, 2), (2, 3)], ids=["1->2", "2->3"])
def test_resumed_fit_trace(target: Target, epochs: tuple[int, int]) -> None:
    saved_epochs, max_epochs = epochs
    config = FitConfig(
        max_epochs=max_epochs, train_batches=3, val_batches=(1,), callbacks=("plain",),
        check_val_every_n_epoch=2, resumed_from_epochs=saved_epochs,
    )  # fmt: skip
    _, resumed = record_checkpoint_round_trip(target, config)
    expected = expected_trace(config)
    assert resumed.events == expected, (
        f"[{saved_epochs}->{max_epochs} epochs] the resumed fit's trace must match the spec\n"
        + trace_diff(expected, resumed.events)
    )
