"""HOOK-DISPATCH: who is called first when callbacks, the module and a DataModule share an event.

Seed 002 only shows LightningModule hooks; the order between callbacks, the module and a
DataModule is Lightning 2.x's (facts §1.1, §1.10): callbacks in list order, then the module;
``setup``/``teardown`` start with the DataModule; two exceptions (``on_train_epoch_end`` with
monitoring callbacks, ``on_load_checkpoint``); a DataModule's batch-transfer hooks replace the
module's.
"""

from __future__ import annotations

import pytest

from conformance.kit.hook_workload import record, record_checkpoint_round_trip
from conformance.kit.recording import monitoring_callback_base
from conformance.registry import clause, facts, seed
from conformance.spec import EvalConfig, FitConfig, expected_trace
from conformance.spec.hooks import CALLBACK_HOOKS, MODULE_HOOKS
from conformance.spec.trace import assert_same_order, callbacks_first_breaches
from conformance.target import Target

SILENT_ON_CALLBACKS = seed(
    "002", "Hooks", "(the pseudocode lists LightningModule hooks only: it is silent on callbacks)"
)
SETUP = seed("002", "Hooks", 'setup("fit") ... teardown("fit")')
# Events both a callback and the module receive (apart from on_load_checkpoint, exception 2).
SHARED_HOOKS = frozenset(CALLBACK_HOOKS) & frozenset(MODULE_HOOKS) - {"on_load_checkpoint"}
CALLBACKS = ("CB0", "CB1", "CB2")
RUNS = {
    "fit": FitConfig(max_epochs=2, train_batches=2, val_batches=(1,), callbacks=("plain",) * 3),
    "validate": EvalConfig("validate", batches=(1, 1), callbacks=("plain",) * 3),
    "test": EvalConfig("test", batches=(2,), callbacks=("plain",) * 3),
    "predict": EvalConfig("predict", batches=(2,), callbacks=("plain",) * 3),
}


def needs_datamodule(target: Target) -> None:
    if target.LightningDataModule is None:
        pytest.skip(f"target {target.spec!r} has no LightningDataModule")


@clause(
    "HOOK-DISPATCH-001",
    "for an event callbacks and the module share, every callback runs first, in "
    "trainer.callbacks order, then the module",
    level="de-facto",
    source=facts(
        "§1.1",
        "for an event, all Callbacks first (in trainer.callbacks order), then the LightningModule",
    ),
    docs_say=SILENT_ON_CALLBACKS,
)
@pytest.mark.parametrize("entry", list(RUNS))
def test_callbacks_before_module(target: Target, entry: str) -> None:
    events = record(target, RUNS[entry]).events
    breaches = callbacks_first_breaches(events, CALLBACKS, SHARED_HOOKS)
    assert not breaches, (
        f"[{entry}] callbacks must run before the module, in list order:\n" + "\n".join(breaches)
    )


@clause(
    "HOOK-DISPATCH-002",
    "on_train_epoch_end runs the non-monitoring callbacks, then the module, then the monitoring "
    "callbacks (EarlyStopping, checkpoints)",
    level="de-facto",
    source=facts(
        "§1.1",
        "Exception 1 — on_train_epoch_end: non-monitoring callbacks → "
        "LightningModule → monitoring callbacks",
    ),
    docs_say=SILENT_ON_CALLBACKS,
)
def test_monitoring_callbacks_after_module(target: Target) -> None:
    if monitoring_callback_base(target) is None:
        pytest.skip(f"target {target.spec!r} has no EarlyStopping callback to monitor with")
    config = FitConfig(
        max_epochs=2, train_batches=2, val_batches=(1,),
        callbacks=("monitoring", "plain", "monitoring", "plain"),
    )  # fmt: skip
    actual = record(target, config).events
    rule = "on_train_epoch_end must reach CB1, CB3 (plain), then M, then CB0, CB2 (EarlyStopping)"
    assert_same_order(expected_trace(config), actual, rule, hooks=("on_train_epoch_end",))


@clause(
    "HOOK-DISPATCH-003",
    "setup and teardown run on the DataModule, then the callbacks, then the module",
    level="de-facto",
    source=facts(
        "§1.1", "setup(stage) and teardown(stage): DataModule → Callbacks → LightningModule"
    ),
    docs_say=SETUP,
)
@pytest.mark.parametrize("entry", ["fit", "test"])
def test_setup_teardown_datamodule_first(target: Target, entry: str) -> None:
    needs_datamodule(target)
    callbacks = ("plain", "plain")
    config: FitConfig | EvalConfig = (
        FitConfig(max_epochs=1, callbacks=callbacks, datamodule=True)
        if entry == "fit"
        else EvalConfig("test", callbacks=callbacks, datamodule=True)
    )
    actual = record(target, config).events
    rule = f"[{entry}] setup/teardown must go DataModule → CB0 → CB1 → module, stage given"
    assert_same_order(expected_trace(config), actual, rule, hooks=("setup", "teardown"))


@clause(
    "HOOK-DISPATCH-004",
    "prepare_data runs on the DataModule before the module, before any setup",
    level="de-facto",
    source=facts("§1.10", "DataModule prepare_data runs before the LightningModule's"),
    docs_say=seed("002", "Hooks", 'if local_rank == 0: prepare_data() / setup("fit")'),
)
def test_prepare_data_datamodule_first(target: Target) -> None:
    needs_datamodule(target)
    config = FitConfig(max_epochs=1, datamodule=True)
    actual = record(target, config).events
    rule = "prepare_data must run on the DataModule, then the module, then setup"
    assert_same_order(expected_trace(config), actual, rule, hooks=("prepare_data", "setup"))


@clause(
    "HOOK-DISPATCH-005",
    "the batch-transfer hooks are the DataModule's when it defines them, else the module's",
    level="de-facto",
    source=facts(
        "§1.10",
        "Batch-transfer hooks ... are taken from the DataModule if it overrides "
        "them (warning if both override), else from the LightningModule",
    ),
    docs_say=seed(
        "002",
        "Hooks",
        "on_before_batch_transfer() / transfer_batch_to_device() / on_after_batch_transfer()",
    ),
)
@pytest.mark.parametrize("datamodule_hooks", [True, False], ids=["dm-defines", "dm-does-not"])
def test_batch_transfer_hook_selection(target: Target, datamodule_hooks: bool) -> None:
    needs_datamodule(target)
    config = FitConfig(
        max_epochs=1, train_batches=2, val_batches=(1,), datamodule=True,
        datamodule_batch_transfer=datamodule_hooks,
    )  # fmt: skip
    hooks = ("on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer")
    owner = "DM" if datamodule_hooks else "M"
    rule = f"every batch (train and validation) must be transferred by {owner}'s hooks only"
    assert_same_order(expected_trace(config), record(target, config).events, rule, hooks=hooks)


@clause(
    "HOOK-DISPATCH-006",
    "when a checkpoint is restored, the module's on_load_checkpoint runs before the callbacks'",
    level="de-facto",
    source=facts(
        "§1.1",
        "Exception 2 — checkpoint loading: LightningModule.on_load_checkpoint "
        "runs before Callback.on_load_checkpoint",
    ),
    docs_say=SILENT_ON_CALLBACKS,
)
def test_module_loads_before_callbacks(target: Target) -> None:
    config = FitConfig(max_epochs=2, train_batches=2, val_batches=(), callbacks=("plain",) * 2,
                       resumed_from_epochs=1)  # fmt: skip
    _, resumed = record_checkpoint_round_trip(target, config)
    rule = "M.on_load_checkpoint must run before CB0/CB1.on_load_checkpoint"
    assert_same_order(expected_trace(config), resumed.events, rule, hooks=("on_load_checkpoint",))
