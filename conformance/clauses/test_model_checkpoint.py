"""MCKPT: ``ModelCheckpoint`` -- when it saves, what it names files, which files it keeps.

The target's class is ``target.namespace.callbacks.ModelCheckpoint``; without one these clauses
are not_run. Runs use the tiny module (3 batches per epoch) and, where a metric is monitored, a
``score`` logged at each epoch end from a fixed table, so the best files are known in advance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conformance.kit.checkpoints import (
    all_ckpt_files,
    assert_same,
    ckpt_names,
    csv_logger_class,
    model_checkpoint_class,
    read_checkpoint,
    weights_of,
)
from conformance.kit.citations import docs_silent
from conformance.kit.ckpt_models import SCORES, scored_module_class
from conformance.registry import clause, facts

BATCHES = 3
MCKPT_SILENT = docs_silent("ModelCheckpoint")


def _scored_module(target: Any) -> Any:
    return scored_module_class(target)(batches=BATCHES)


def _fit(target: Any, root: Path, epochs: int, *callbacks: Any, **flags: Any) -> tuple[Any, Any]:
    model = _scored_module(target)
    flags = {"limit_val_batches": 0, "num_sanity_val_steps": 0, **flags}
    trainer = target.trainer(
        root, max_epochs=epochs, enable_checkpointing=True, callbacks=list(callbacks), **flags
    )
    trainer.fit(model)
    return trainer, model


def _checkpoint(target: Any, **kwargs: Any) -> Any:
    return model_checkpoint_class(target)(**kwargs)


def _expect_files(dirpath: Path, expected: list[str], what: str) -> None:
    observed = ckpt_names(dirpath)
    assert observed == sorted(expected), (
        f"{what}: expected files {sorted(expected)} in {dirpath}, observed {observed}"
    )


@clause(
    "MCKPT-001",
    "checkpointing is on by default: one 'epoch=E-step=S.ckpt' in <root>/checkpoints, the latest",
    level="de-facto",
    source=facts(
        "§3.2",
        "dirpath None -> <default_root_dir>/checkpoints; filename epoch=E-step=S; "
        "monitor=None, save_top_k=1 keeps only the most recent checkpoint",
    ),
    docs_say=MCKPT_SILENT,
)
def test_default_checkpointing(target: Any, tmp_path: Path) -> None:
    cls = model_checkpoint_class(target)
    # the quiet flags without enable_checkpointing: the Trainer's own default must apply
    quiet = {k: v for k, v in target.QUIET_FLAGS.items() if k != "enable_checkpointing"}
    trainer = target.Trainer(
        **quiet,
        default_root_dir=str(tmp_path),
        max_epochs=2,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    model = _scored_module(target)
    trainer.fit(model)
    callback = trainer.checkpoint_callback
    assert isinstance(callback, cls), (
        f"expected trainer.checkpoint_callback to be a ModelCheckpoint by default, "
        f"observed {callback!r}"
    )
    expected = tmp_path / "checkpoints" / f"epoch=1-step={2 * BATCHES}.ckpt"
    assert all_ckpt_files(tmp_path) == [str(expected.relative_to(tmp_path))], (
        f"expected only {expected.relative_to(tmp_path)}, observed {all_ckpt_files(tmp_path)}"
    )
    assert Path(callback.best_model_path) == expected, (
        f"expected best_model_path {expected}, observed {callback.best_model_path!r}"
    )
    saved = read_checkpoint(expected)
    assert (saved["epoch"], saved["global_step"]) == (1, 2 * BATCHES), (
        f"expected the file to hold epoch 1 / global_step {2 * BATCHES}, "
        f"observed {saved['epoch']} / {saved['global_step']}"
    )
    assert_same(weights_of(model), saved["state_dict"], "weights in the last epoch's checkpoint")


@clause(
    "MCKPT-002",
    "with a logger the default dirpath is <save_dir>/<name>/version_<n>/checkpoints",
    level="de-facto",
    source=facts("§3.2", "dirpath None -> <logger.save_dir>/<logger.name>/<version_N>/checkpoints"),
    docs_say=MCKPT_SILENT,
)
def test_dirpath_follows_logger(target: Any, tmp_path: Path) -> None:
    model_checkpoint_class(target)
    logger = csv_logger_class(target)(save_dir=str(tmp_path), name="runs")
    _fit(target, tmp_path, 1, logger=logger)
    expected = f"runs/version_0/checkpoints/epoch=0-step={BATCHES}.ckpt"
    assert all_ckpt_files(tmp_path) == [expected], (
        f"expected [{expected}], observed {all_ckpt_files(tmp_path)}"
    )


@clause(
    "MCKPT-003",
    "save_top_k=k with monitor/mode keeps the k best files; best_model_path/score name the best",
    level="de-facto",
    source=facts("§3.2", "ModelCheckpoint monitor/mode/save_top_k; best_model_path"),
    docs_say=MCKPT_SILENT,
)
def test_top_k(target: Any, tmp_path: Path) -> None:
    for mode, kept, best in (("min", (1, 3), 3), ("max", (0, 2), 2)):
        root = tmp_path / mode
        callback = _checkpoint(target, monitor="score", mode=mode, save_top_k=2)
        _fit(target, root, len(SCORES), callback)
        names = [f"epoch={e}-step={(e + 1) * BATCHES}.ckpt" for e in kept]
        _expect_files(root / "checkpoints", names, f"mode={mode}, save_top_k=2")
        best_name = f"epoch={best}-step={(best + 1) * BATCHES}.ckpt"
        assert Path(callback.best_model_path).name == best_name, (
            f"mode={mode}: expected best_model_path .../{best_name}, "
            f"observed {callback.best_model_path!r}"
        )
        score = float(callback.best_model_score)
        assert abs(score - SCORES[best]) < 1e-6, (
            f"mode={mode}: expected best_model_score {SCORES[best]}, observed {score}"
        )


@clause(
    "MCKPT-004",
    "filename templates: '{epoch}-{score:.2f}' -> 'epoch=3-score=0.10.ckpt'; insertion can be off",
    level="de-facto",
    source=facts(
        "§3.2",
        "filename '{epoch}-{step}' rendered as epoch=E-step=S.ckpt (auto_insert_metric_name)",
    ),
    docs_say=MCKPT_SILENT,
)
def test_filename_template(target: Any, tmp_path: Path) -> None:
    callback = _checkpoint(target, monitor="score", filename="{epoch}-{score:.2f}")
    _fit(target, tmp_path / "auto", len(SCORES), callback)
    _expect_files(tmp_path / "auto" / "checkpoints", ["epoch=3-score=0.10.ckpt"], "template")
    callback = _checkpoint(
        target, monitor="score", filename="m-{epoch:02d}", auto_insert_metric_name=False
    )
    _fit(target, tmp_path / "plain", len(SCORES), callback)
    _expect_files(
        tmp_path / "plain" / "checkpoints", ["m-03.ckpt"], "auto_insert_metric_name=False"
    )


@clause(
    "MCKPT-005",
    "save_last=True also writes last.ckpt with the latest state; last_model_path points to it",
    level="de-facto",
    source=facts("§3.2", "save_last=True also writes last.ckpt whenever it saves"),
    docs_say=MCKPT_SILENT,
)
def test_save_last(target: Any, tmp_path: Path) -> None:
    callback = _checkpoint(target, save_last=True)
    _, model = _fit(target, tmp_path, 2, callback)
    dirpath = tmp_path / "checkpoints"
    _expect_files(dirpath, [f"epoch=1-step={2 * BATCHES}.ckpt", "last.ckpt"], "save_last=True")
    assert Path(callback.last_model_path) == dirpath / "last.ckpt", (
        f"expected last_model_path {dirpath / 'last.ckpt'}, observed {callback.last_model_path!r}"
    )
    last = read_checkpoint(dirpath / "last.ckpt")
    assert last["global_step"] == 2 * BATCHES, (
        f"expected last.ckpt at global_step {2 * BATCHES}, observed {last['global_step']}"
    )
    assert_same(weights_of(model), last["state_dict"], "weights in last.ckpt")


@clause(
    "MCKPT-006",
    "every_n_train_steps=N saves after every N-th optimizer step (and not at epoch ends)",
    level="de-facto",
    source=facts("§3.2", "every_n_train_steps checked in on_train_batch_end"),
    docs_say=MCKPT_SILENT,
)
def test_every_n_train_steps(target: Any, tmp_path: Path) -> None:
    callback = _checkpoint(target, every_n_train_steps=2, save_top_k=-1)
    _fit(target, tmp_path, 2, callback)
    names = ["epoch=0-step=2.ckpt", "epoch=1-step=4.ckpt", "epoch=1-step=6.ckpt"]
    _expect_files(tmp_path / "checkpoints", names, "every_n_train_steps=2 over 6 steps")
    for name in names:
        step = int(name.split("step=")[1].split(".")[0])
        saved = read_checkpoint(tmp_path / "checkpoints" / name)["global_step"]
        assert saved == step, f"{name}: expected global_step {step}, observed {saved}"


@clause(
    "MCKPT-007",
    "every_n_epochs=N saves at the end of every N-th epoch",
    level="de-facto",
    source=facts("§3.2", "Triggers: none given -> every_n_epochs=1"),
    docs_say=MCKPT_SILENT,
)
def test_every_n_epochs(target: Any, tmp_path: Path) -> None:
    callback = _checkpoint(target, every_n_epochs=2, save_top_k=-1)
    _fit(target, tmp_path, 5, callback)
    names = [f"epoch=1-step={2 * BATCHES}.ckpt", f"epoch=3-step={4 * BATCHES}.ckpt"]
    _expect_files(tmp_path / "checkpoints", names, "every_n_epochs=2 over 5 epochs")


@clause(
    "MCKPT-008",
    "save_weights_only=True writes the weights without optimizer, scheduler or callback state",
    level="de-facto",
    source=facts(
        "§3.1",
        "weights_only (ModelCheckpoint save_weights_only): no callbacks, "
        "optimizer_states, lr_schedulers",
    ),
    docs_say=MCKPT_SILENT,
)
def test_save_weights_only(target: Any, tmp_path: Path) -> None:
    callback = _checkpoint(target, save_weights_only=True)
    _, model = _fit(target, tmp_path, 1, callback)
    saved = read_checkpoint(tmp_path / "checkpoints" / f"epoch=0-step={BATCHES}.ckpt")
    present = sorted({"optimizer_states", "lr_schedulers", "callbacks"} & set(saved))
    assert not present, f"expected no training state in a weights-only file, found {present}"
    assert_same(weights_of(model), saved["state_dict"], "weights in the weights-only file")


@clause(
    "MCKPT-009",
    "a file name that already exists gets a version suffix: model.ckpt, model-v1.ckpt, ...",
    level="de-facto",
    source=facts("§3.2", "name collisions get -v1, -v2... (enable_version_counter)"),
    docs_say=MCKPT_SILENT,
)
def test_versioned_names(target: Any, tmp_path: Path) -> None:
    callback = _checkpoint(target, monitor="score", filename="model", save_top_k=-1)
    _fit(target, tmp_path, 3, callback)
    names = ["model.ckpt", "model-v1.ckpt", "model-v2.ckpt"]
    _expect_files(tmp_path / "checkpoints", names, "three saves named 'model'")
    steps = [read_checkpoint(tmp_path / "checkpoints" / n)["global_step"] for n in names]
    assert steps == [BATCHES, 2 * BATCHES, 3 * BATCHES], (
        f"expected {names} to hold steps {[BATCHES, 2 * BATCHES, 3 * BATCHES]}, observed {steps}"
    )


@clause(
    "MCKPT-010",
    "an explicit dirpath receives the files and nothing is written to the default directory",
    level="de-facto",
    source=facts("§3.2", "ModelCheckpoint dirpath"),
    docs_say=MCKPT_SILENT,
)
def test_explicit_dirpath(target: Any, tmp_path: Path) -> None:
    custom = tmp_path / "elsewhere" / "ckpts"
    callback = _checkpoint(target, dirpath=str(custom))
    _fit(target, tmp_path / "root", 1, callback)
    _expect_files(custom, [f"epoch=0-step={BATCHES}.ckpt"], "explicit dirpath")
    assert all_ckpt_files(tmp_path / "root") == [], (
        f"expected no files under default_root_dir, observed {all_ckpt_files(tmp_path / 'root')}"
    )
