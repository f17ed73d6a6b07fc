"""RESUME: ``fit(ckpt_path=...)`` restores weights, optimizer, scheduler, callbacks, counters and
loop position; ``validate/test/predict(ckpt_path=...)`` load the chosen weights.

A first run trains the tiny module (Adam + StepLR, 3 batches per epoch) and saves; a second,
fresh module and Trainer resume from that file. What the resumed run sees in ``on_train_start``
is compared exactly with the first run's final state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.kit.checkpoints import (
    assert_same,
    error_text,
    model_checkpoint_class,
    read_checkpoint,
    weights_of,
)
from conformance.kit.citations import docs_silent
from conformance.kit.ckpt_models import (
    counting_callback_class,
    save_every_batch_class,
    scored_module_class,
    seed_all,
    tiny_datamodule_class,
    tiny_module_class,
)
from conformance.registry import clause, facts

BATCHES = 3
RESUME_SILENT = docs_silent("resuming (fit(ckpt_path=...))")
EVAL_SILENT = docs_silent("validate/test/predict(ckpt_path=...)")
RESTORE_FACTS = "restore_training_state: loop progress, optimizer states, LR scheduler states"


def _trainer(target: Any, root: Path, epochs: int, **flags: Any) -> Any:
    flags = {"limit_val_batches": 0, "num_sanity_val_steps": 0, **flags}
    return target.trainer(root, max_epochs=epochs, **flags)


def _first_run(target: Any, root: Path, epochs: int = 2, **flags: Any) -> tuple[Any, Path]:
    """Train ``epochs`` epochs and save with trainer.save_checkpoint; return (model, path)."""
    model = tiny_module_class(target)(batches=BATCHES)
    trainer = _trainer(target, root / "first", epochs, **flags)
    trainer.fit(model)
    path = root / "first.ckpt"
    trainer.save_checkpoint(path)
    return model, path


def _resume(target: Any, root: Path, path: Path, epochs: int = 3, **flags: Any) -> tuple[Any, Any]:
    model = tiny_module_class(target)(batches=BATCHES)
    trainer = _trainer(target, root / "resumed", epochs, **flags)
    trainer.fit(model, ckpt_path=str(path))
    assert model.at_train_start is not None, "expected the resumed run to reach on_train_start"
    return model, trainer


@clause(
    "RESUME-001",
    "fit(ckpt_path=...) restores global_step and current_epoch and continues counting from them",
    level="de-facto",
    source=facts(
        "§3.4",
        "In on_train_start the restored values are visible (global_step=2, "
        "current_epoch=1 after an end-of-epoch-0 ckpt)",
    ),
    docs_say=RESUME_SILENT,
)
def test_counters_restored(target: Any, tmp_path: Path) -> None:
    _, path = _first_run(target, tmp_path)
    model, trainer = _resume(target, tmp_path, path)
    start = model.at_train_start
    assert (start["global_step"], start["current_epoch"]) == (2 * BATCHES, 2), (
        f"expected on_train_start to see global_step {2 * BATCHES}, current_epoch 2; "
        f"observed {start['global_step']}, {start['current_epoch']}"
    )
    assert (trainer.global_step, trainer.current_epoch) == (3 * BATCHES, 3), (
        f"expected the resumed fit to end at global_step {3 * BATCHES}, epoch 3; "
        f"observed {trainer.global_step}, {trainer.current_epoch}"
    )
    positions = [(epoch, index) for epoch, index, _ in model.trained]
    expected = [(2, i) for i in range(BATCHES)]
    assert positions == expected, f"expected to train (epoch, batch) {expected}, got {positions}"


@clause(
    "RESUME-002",
    "resuming restores the optimizer state exactly (Adam step, exp_avg, exp_avg_sq, lr)",
    level="de-facto",
    source=facts("§3.4", RESTORE_FACTS),
    docs_say=RESUME_SILENT,
)
def test_optimizer_restored(target: Any, tmp_path: Path) -> None:
    first, path = _first_run(target, tmp_path)
    model, _ = _resume(target, tmp_path, path)
    expected = first.made_optimizer.state_dict()
    assert_same(expected, model.at_train_start["optimizer"], "Adam state at on_train_start")


@clause(
    "RESUME-003",
    "resuming restores the LR scheduler state exactly (last_epoch, current lr)",
    level="de-facto",
    source=facts("§3.4", RESTORE_FACTS),
    docs_say=RESUME_SILENT,
)
def test_scheduler_restored(target: Any, tmp_path: Path) -> None:
    first, path = _first_run(target, tmp_path)
    model, _ = _resume(target, tmp_path, path)
    expected = first.made_scheduler.state_dict()
    assert_same(expected, model.at_train_start["scheduler"], "StepLR state at on_train_start")
    lr = model.at_train_start["optimizer"]["param_groups"][0]["lr"]
    assert lr == pytest.approx(0.05 * 0.5**2), (
        f"expected the lr after two StepLR(gamma=0.5) epochs, 0.0125, observed {lr}"
    )


@clause(
    "RESUME-004",
    "resuming calls Callback.load_state_dict with its saved state and on_load_checkpoint with it",
    level="de-facto",
    source=facts(
        "§3.4",
        "Callback.on_load_checkpoint (all) -> Callback.load_state_dict("
        "deepcopy(state)) for callbacks whose state_key is in ckpt['callbacks']",
    ),
    docs_say=RESUME_SILENT,
)
def test_callback_state_restored(target: Any, tmp_path: Path) -> None:
    counter = counting_callback_class(target)
    _, path = _first_run(target, tmp_path, callbacks=[counter()])
    resumed_counter = counter()
    _resume(target, tmp_path, path, callbacks=[resumed_counter])
    assert resumed_counter.restored == {"batches": 2 * BATCHES}, (
        f"expected load_state_dict({{'batches': {2 * BATCHES}}}), "
        f"observed {resumed_counter.restored!r}"
    )
    keys = resumed_counter.loaded_hook_keys or []
    assert "counting_callback" in keys and "state_dict" in keys, (
        f"expected Callback.on_load_checkpoint to receive the saved dict, observed keys {keys}"
    )


@clause(
    "RESUME-005",
    "resuming loads the weights, calls LightningModule.on_load_checkpoint and restores datamodules",
    level="de-facto",
    source=facts(
        "§3.4",
        "LightningModule.on_load_checkpoint(ckpt) -> model.load_state_dict -> "
        "datamodule.load_state_dict(ckpt[DM qualname])",
    ),
    docs_say=RESUME_SILENT,
)
def test_module_and_datamodule_restored(target: Any, tmp_path: Path) -> None:
    dm_cls = tiny_datamodule_class(target)
    first = tiny_module_class(target)(batches=BATCHES)
    trainer = _trainer(target, tmp_path / "first", 2)
    trainer.fit(first, datamodule=dm_cls(batches=BATCHES))
    trainer.save_checkpoint(tmp_path / "first.ckpt")
    datamodule = dm_cls(batches=BATCHES)
    datamodule.token = 0
    model = tiny_module_class(target)(batches=BATCHES)
    _trainer(target, tmp_path / "resumed", 3).fit(
        model, datamodule=datamodule, ckpt_path=str(tmp_path / "first.ckpt")
    )
    assert_same(weights_of(first), model.at_train_start["weights"], "weights at on_train_start")
    keys = model.loaded_hook_keys or []
    assert "state_dict" in keys and "optimizer_states" in keys, (
        f"expected LightningModule.on_load_checkpoint to receive the saved dict, keys {keys}"
    )
    assert datamodule.restored_state == {"token": 7}, (
        f"expected datamodule.load_state_dict({{'token': 7}}), "
        f"observed {datamodule.restored_state!r}"
    )


@clause(
    "RESUME-006",
    "a checkpoint saved mid-epoch resumes in the same epoch at the next batch index",
    level="de-facto",
    source=facts(
        "§3.5",
        "Mid-epoch checkpoint: resume continues epoch 0 at batch_idx=3, no on_train_epoch_start",
    ),
    docs_say=RESUME_SILENT,
)
def test_mid_epoch_position(target: Any, tmp_path: Path) -> None:
    saver = save_every_batch_class(target)(str(tmp_path / "steps"))
    _first_run(target, tmp_path, callbacks=[saver])
    path = saver.paths[BATCHES + 1]  # after batch 0 of epoch 1
    model, trainer = _resume(target, tmp_path, Path(path), epochs=2)
    start = model.at_train_start
    assert (start["global_step"], start["current_epoch"]) == (BATCHES + 1, 1), (
        f"expected on_train_start at global_step {BATCHES + 1}, epoch 1; "
        f"observed {start['global_step']}, {start['current_epoch']}"
    )
    positions = [(epoch, index) for epoch, index, _ in model.trained]
    expected = [(1, i) for i in range(1, BATCHES)]
    assert positions == expected, (
        f"expected the resumed run to train (epoch, batch_idx) {expected}, observed {positions}"
    )
    assert trainer.global_step == 2 * BATCHES, (
        f"expected global_step {2 * BATCHES} at the end, observed {trainer.global_step}"
    )


@clause(
    "RESUME-007",
    "resuming at an epoch boundary ends with exactly the weights of the uninterrupted run",
    level="de-facto",
    source=facts(
        "§3.4",
        "Not restored: RNG states, DataLoader position (so only RNG-free, "
        "epoch-boundary resumes can match)",
    ),
    docs_say=RESUME_SILENT,
)
def test_epoch_boundary_matches_uninterrupted(target: Any, tmp_path: Path) -> None:
    seed_all(target, 0)
    whole = tiny_module_class(target)(batches=BATCHES)
    _trainer(target, tmp_path / "whole", 3, limit_val_batches=1).fit(whole)
    seed_all(target, 0)
    _, path = _first_run(target, tmp_path, epochs=1, limit_val_batches=1)
    resumed, _ = _resume(target, tmp_path, path, epochs=3, limit_val_batches=1)
    assert_same(weights_of(whole), weights_of(resumed), "final weights, resumed vs uninterrupted")
    assert_same(
        whole.made_optimizer.state_dict(),
        resumed.made_optimizer.state_dict(),
        "final Adam state, resumed vs uninterrupted",
    )


@clause(
    "RESUME-008",
    "fit/predict(ckpt_path='last') use ModelCheckpoint's last.ckpt",
    level="de-facto",
    source=facts(
        "§3.3", "'last' -> newest (mtime) of all last*.ckpt files in ModelCheckpoint dirs"
    ),
    docs_say=RESUME_SILENT,
)
def test_resume_last(target: Any, tmp_path: Path) -> None:
    cls = model_checkpoint_class(target)
    dirpath = str(tmp_path / "ckpts")
    _first_run(
        target,
        tmp_path,
        enable_checkpointing=True,
        callbacks=[cls(dirpath=dirpath, save_last=True)],
    )
    last = read_checkpoint(tmp_path / "ckpts" / "last.ckpt")
    model = tiny_module_class(target)(batches=BATCHES)
    trainer = _trainer(
        target,
        tmp_path / "resumed",
        3,
        enable_checkpointing=True,
        callbacks=[cls(dirpath=dirpath, save_last=True)],
    )
    trainer.predict(model, ckpt_path="last")
    assert_same(last["state_dict"], model.weights_at.get("predict", {}), "predict: weights used")
    trainer.fit(model, ckpt_path="last")
    start = model.at_train_start or {}
    assert (start.get("global_step"), start.get("current_epoch")) == (2 * BATCHES, 2), (
        f"expected ckpt_path='last' to resume at global_step {2 * BATCHES}, epoch 2; "
        f"observed {start.get('global_step')}, {start.get('current_epoch')}"
    )


@clause(
    "RESUME-009",
    "validate/test(ckpt_path='best') evaluate the weights of ModelCheckpoint's best file",
    level="de-facto",
    source=facts("§3.3", "'best' -> trainer.checkpoint_callback.best_model_path"),
    docs_say=EVAL_SILENT,
)
def test_eval_best(target: Any, tmp_path: Path) -> None:
    callback = model_checkpoint_class(target)(monitor="score", mode="min", save_top_k=1)
    model = scored_module_class(target)(batches=BATCHES)
    trainer = _trainer(
        target, tmp_path, 3, enable_checkpointing=True, callbacks=[callback], limit_val_batches=1
    )
    trainer.fit(model)
    best = read_checkpoint(callback.best_model_path)
    assert best["epoch"] == 1, f"expected the best score at epoch 1, observed {best['epoch']}"
    for stage in ("validate", "test"):
        getattr(trainer, stage)(model, ckpt_path="best")
        assert_same(best["state_dict"], model.weights_at.get(stage, {}), f"{stage}: weights used")


@clause(
    "RESUME-010",
    "validate/test/predict(ckpt_path=path) evaluate that file's weights, not the module's",
    level="de-facto",
    source=facts("§3.3", "For validate/test/predict only the model weights (+ ...) are restored"),
    docs_say=EVAL_SILENT,
)
def test_eval_explicit_path(target: Any, tmp_path: Path) -> None:
    saver = save_every_batch_class(target)(str(tmp_path / "steps"))
    trained, _ = _first_run(target, tmp_path, callbacks=[saver])
    path = saver.paths[2]
    expected = read_checkpoint(path)["state_dict"]
    for stage in ("validate", "test", "predict"):
        trainer = target.trainer(tmp_path / stage)
        getattr(trainer, stage)(trained, ckpt_path=path)
        assert_same(expected, trained.weights_at.get(stage, {}), f"{stage}: weights used")


@clause(
    "RESUME-011",
    "a missing ckpt_path raises FileNotFoundError naming the path, before any training",
    level="de-facto",
    source=facts("§3.3", "a missing file -> FileNotFoundError('Checkpoint file not found...')"),
    docs_say=RESUME_SILENT,
)
def test_missing_file(target: Any, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "missing.ckpt"
    model = tiny_module_class(target)(batches=BATCHES)
    before = weights_of(model)
    calls = {
        "fit": lambda: _trainer(target, tmp_path / "fit", 1).fit(model, ckpt_path=str(missing)),
        "validate": lambda: target.trainer(tmp_path / "val").validate(
            model, ckpt_path=str(missing)
        ),
        "load_from_checkpoint": lambda: type(model).load_from_checkpoint(str(missing)),
    }
    for name, call in calls.items():
        with pytest.raises(FileNotFoundError) as raised:
            call()
        text = error_text(raised.value)
        assert "missing.ckpt" in text, (
            f"{name}: expected the error to name missing.ckpt, observed {text!r}"
        )
    assert model.trained == [], f"expected no training step to run, observed {model.trained}"
    assert_same(before, weights_of(model), "module weights after the failed calls")
