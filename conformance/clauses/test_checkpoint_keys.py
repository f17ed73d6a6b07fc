"""CKPT-KEYS: the checkpoint dict uses Lightning's keys, with Lightning's meanings.

Every clause fits the tiny module (Adam + StepLR, 3 batches per epoch, 2 epochs), saves with
``trainer.save_checkpoint`` and reads the file back with the safe loader, comparing each entry
with the live object it must describe (weights, optimizer moments, scheduler state, hparams).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conformance.kit.checkpoints import assert_same, read_checkpoint, weights_of
from conformance.kit.citations import docs_silent
from conformance.kit.ckpt_models import (
    counting_callback_class,
    tiny_datamodule_class,
    tiny_module_class,
)
from conformance.registry import clause, facts, seed

BATCHES, EPOCHS = 3, 2
KEYS_SILENT = docs_silent("the checkpoint's keys", "Inference in Production")
TRAINING_STATE = ("callbacks", "optimizer_states", "lr_schedulers")


def _fit_and_save(
    target: Any,
    root: Path,
    *,
    weights_only: bool = False,
    datamodule: Any = None,
    callbacks: list[Any] | None = None,
    model: Any = None,
) -> tuple[Any, Any, dict[str, Any]]:
    model = model or tiny_module_class(target)(batches=BATCHES)
    trainer = target.trainer(
        root,
        max_epochs=EPOCHS,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        callbacks=callbacks or [],
    )
    trainer.fit(model, datamodule=datamodule)
    path = root / "saved.ckpt"
    if weights_only:
        trainer.save_checkpoint(path, weights_only=True)
    else:
        trainer.save_checkpoint(path)
    return trainer, model, read_checkpoint(path)


@clause(
    "CKPT-KEYS-001",
    "save_checkpoint writes epoch, global_step, the version, state_dict and loops, with meaning",
    level="de-facto",
    source=facts(
        "§3.1", "Always: epoch, global_step, pytorch-lightning_version, state_dict, loops"
    ),
    docs_say=KEYS_SILENT,
)
def test_core_keys(target: Any, tmp_path: Path) -> None:
    trainer, model, ckpt = _fit_and_save(target, tmp_path)
    expected_keys = {"epoch", "global_step", "pytorch-lightning_version", "state_dict", "loops"}
    missing = expected_keys - set(ckpt)
    assert not missing, f"expected keys {sorted(expected_keys)}, missing {sorted(missing)}"
    assert ckpt["epoch"] == trainer.current_epoch == EPOCHS, (
        f"expected epoch == trainer.current_epoch == {EPOCHS} after fit, observed "
        f"ckpt epoch {ckpt['epoch']!r}, trainer.current_epoch {trainer.current_epoch!r}"
    )
    assert ckpt["global_step"] == trainer.global_step == EPOCHS * BATCHES, (
        f"expected global_step == {EPOCHS * BATCHES} optimizer steps, observed ckpt "
        f"{ckpt['global_step']!r}, trainer {trainer.global_step!r}"
    )
    version = ckpt["pytorch-lightning_version"]
    assert isinstance(version, str) and version, f"expected a version string, observed {version!r}"
    assert_same(weights_of(model), ckpt["state_dict"], "state_dict vs the trained module")
    loops = ckpt["loops"]
    expected_loops = {"fit_loop", "validate_loop", "test_loop", "predict_loop"}
    assert isinstance(loops, dict) and expected_loops <= set(loops), (
        f"expected loops with {sorted(expected_loops)}, observed {sorted(loops or {})}"
    )
    epochs = loops["fit_loop"].get("epoch_progress", {}).get("current", {}).get("completed")
    assert epochs == EPOCHS, (
        f"expected loops.fit_loop.epoch_progress.current.completed == {EPOCHS}, observed {epochs!r}"
    )


@clause(
    "CKPT-KEYS-002",
    "optimizer_states and lr_schedulers hold each optimizer's and scheduler's exact state_dict",
    level="de-facto",
    source=facts(
        "§3.1",
        "optimizer_states: list of optimizer.state_dict(); lr_schedulers: list "
        "of scheduler.state_dict()",
    ),
    docs_say=KEYS_SILENT,
)
def test_optimizer_and_scheduler_state(target: Any, tmp_path: Path) -> None:
    _, model, ckpt = _fit_and_save(target, tmp_path)
    for key in ("optimizer_states", "lr_schedulers"):
        assert isinstance(ckpt.get(key), list) and len(ckpt[key]) == 1, (
            f"expected {key} to be a list with one entry, observed {ckpt.get(key)!r}"
        )
    optimizer_state = model.made_optimizer.state_dict()
    assert optimizer_state["state"], "the Adam optimizer has no state after training (harness)"
    assert_same(optimizer_state, ckpt["optimizer_states"][0], "optimizer_states[0] vs Adam")
    assert_same(model.made_scheduler.state_dict(), ckpt["lr_schedulers"][0], "lr_schedulers[0]")


@clause(
    "CKPT-KEYS-003",
    "save_checkpoint(weights_only=True) omits training state and skips Callback.on_save_checkpoint",
    level="de-facto",
    source=facts(
        "§3.1",
        "With weights_only=True: no callbacks, optimizer_states, lr_schedulers, "
        "and Callback.on_save_checkpoint is NOT called (only the LM hook)",
    ),
    docs_say=KEYS_SILENT,
)
def test_weights_only_save(target: Any, tmp_path: Path) -> None:
    counter = counting_callback_class(target)()
    model = tiny_module_class(target)(batches=BATCHES)
    model.extra_to_save = {"module_extra": 1}
    _, model, ckpt = _fit_and_save(
        target, tmp_path, weights_only=True, callbacks=[counter], model=model
    )
    present = sorted(set(TRAINING_STATE) & set(ckpt))
    assert not present, (
        f"expected no {list(TRAINING_STATE)} in a weights-only file, found {present}"
    )
    for key in ("epoch", "global_step", "state_dict", "loops", "hyper_parameters"):
        assert key in ckpt, f"expected {key!r} in a weights-only checkpoint, keys {sorted(ckpt)}"
    assert_same(weights_of(model), ckpt["state_dict"], "weights-only state_dict")
    assert ckpt.get("module_extra") == 1, (
        f"expected LightningModule.on_save_checkpoint to run (module_extra == 1), "
        f"observed {ckpt.get('module_extra')!r}"
    )
    assert "counting_callback" not in ckpt, (
        "expected Callback.on_save_checkpoint not to run for a weights-only save, but its "
        f"entry is present: {ckpt['counting_callback']!r}"
    )


@clause(
    "CKPT-KEYS-004",
    "hyper_parameters holds the current (mutated) hparams and hparams_name is 'kwargs'",
    level="de-facto",
    source=facts(
        "§3.1, §4",
        "hyper_parameters = dict(model.hparams) -- the current (possibly "
        "mutated) hparams; _hparams_name is 'kwargs' for capture-all",
    ),
    docs_say=seed(
        "002",
        "Save Hyperparameters > save_hyperparameters",
        "These hyperparameters will also be stored within the model checkpoint",
    ),
)
def test_hparams_entries(target: Any, tmp_path: Path) -> None:
    model = tiny_module_class(target)(width=5, batches=BATCHES)
    model.hparams.lr = 0.01
    _, _, ckpt = _fit_and_save(target, tmp_path, model=model)
    expected = {"width": 5, "lr": 0.01, "batches": BATCHES, "shuffle": False, "dropout": 0.0}
    assert ckpt.get("hyper_parameters") == expected, (
        f"expected hyper_parameters {expected}, observed {ckpt.get('hyper_parameters')!r}"
    )
    assert ckpt.get("hparams_name") == "kwargs", (
        f"expected hparams_name 'kwargs', observed {ckpt.get('hparams_name')!r}"
    )


@clause(
    "CKPT-KEYS-005",
    "a datamodule adds its hparams (datamodule_hyper_parameters) and state under its class name",
    level="de-facto",
    source=facts(
        "§3.1",
        "datamodule_hparams_name, datamodule_hyper_parameters; "
        "'<DataModule qualname>' = datamodule.state_dict()",
    ),
    docs_say=KEYS_SILENT,
)
def test_datamodule_entries(target: Any, tmp_path: Path) -> None:
    datamodule = tiny_datamodule_class(target)(batches=BATCHES, batch_size=1)
    _, _, ckpt = _fit_and_save(target, tmp_path, datamodule=datamodule)
    expected = {"width": 4, "batches": BATCHES, "batch_size": 1}
    assert ckpt.get("datamodule_hyper_parameters") == expected, (
        f"expected datamodule_hyper_parameters {expected}, "
        f"observed {ckpt.get('datamodule_hyper_parameters')!r}"
    )
    assert ckpt.get("datamodule_hparams_name") == "kwargs", (
        f"expected datamodule_hparams_name 'kwargs', "
        f"observed {ckpt.get('datamodule_hparams_name')!r}"
    )
    assert ckpt.get("TinyDataModule") == {"token": 7}, (
        f"expected the datamodule state {{'token': 7}} under 'TinyDataModule', "
        f"observed {ckpt.get('TinyDataModule')!r} (keys {sorted(ckpt)})"
    )


@clause(
    "CKPT-KEYS-006",
    "LightningModule.on_save_checkpoint sees the hparams entries and what it adds is saved",
    level="de-facto",
    source=facts(
        "§3.1",
        "Anything added by LightningModule.on_save_checkpoint (mutates the dict "
        "in place; hparams and datamodule entries are already present)",
    ),
    docs_say=docs_silent("what on_save_checkpoint may add", "Hooks > on_save_checkpoint"),
)
def test_module_hook_adds(target: Any, tmp_path: Path) -> None:
    model = tiny_module_class(target)(batches=BATCHES)
    model.extra_to_save = {"module_extra": {"note": "kept", "values": [1, 2]}}
    _, model, ckpt = _fit_and_save(target, tmp_path, model=model)
    assert ckpt.get("module_extra") == {"note": "kept", "values": [1, 2]}, (
        f"expected the hook's entry module_extra in the file, observed {ckpt.get('module_extra')!r}"
    )
    seen = model.saved_hook_keys or []
    for key in ("state_dict", "hyper_parameters", "optimizer_states"):
        assert key in seen, (
            f"expected {key!r} to be in the dict passed to on_save_checkpoint, observed {seen}"
        )


@clause(
    "CKPT-KEYS-007",
    "callbacks holds each stateful Callback.state_dict() under its state key; its hook may add",
    level="de-facto",
    source=facts(
        "§3.1",
        "callbacks: {callback.state_key: callback.state_dict()} (default "
        "state_key = class __qualname__); anything added by Callback.on_save_checkpoint",
    ),
    docs_say=KEYS_SILENT,
)
def test_callback_state(target: Any, tmp_path: Path) -> None:
    counter = counting_callback_class(target)()
    _, _, ckpt = _fit_and_save(target, tmp_path, callbacks=[counter])
    states = ckpt.get("callbacks")
    assert isinstance(states, dict), f"expected a callbacks dict, observed {states!r}"
    key = getattr(counter, "state_key", "CountingCallback")
    assert key == "CountingCallback", f"expected state key 'CountingCallback', observed {key!r}"
    assert states.get(key) == {"batches": EPOCHS * BATCHES}, (
        f"expected callbacks[{key!r}] == {{'batches': {EPOCHS * BATCHES}}}, "
        f"observed {states.get(key)!r} (callbacks keys {sorted(states)})"
    )
    assert ckpt.get("counting_callback") == {"batches": EPOCHS * BATCHES}, (
        f"expected Callback.on_save_checkpoint's entry counting_callback, "
        f"observed {ckpt.get('counting_callback')!r}"
    )
