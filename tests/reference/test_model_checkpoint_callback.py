"""ModelCheckpoint beyond the MCKPT clauses: validation-time saves, deferral, links, time
triggers, exceptions, its own state. Tests taking ``ns`` run the same configuration on the
reference and on real Lightning and must write the same files and report the same bests.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import torch
from reference_models import RandomDataset
from torch.utils.data import DataLoader

import reference as L
from reference.utilities.exceptions import MisconfigurationException

VAL_SCORES = (0.9, 0.4, 0.7, 0.2, 0.5, 0.6, 0.3, 0.8)


def score_module(ns: Any, fail_at_step: int | None = None) -> Any:
    class Scored(ns.LightningModule):
        """4 batches per epoch; each validation logs the next value of VAL_SCORES."""

        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(32, 2)
            self.validations = 0

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            if self.global_step == fail_at_step:
                raise RuntimeError("training failed")
            out = self.layer(batch)
            return torch.nn.functional.mse_loss(out, torch.ones_like(out))

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            pass

        def on_validation_epoch_end(self) -> None:
            if not self.trainer.sanity_checking:
                self.log("val.score", VAL_SCORES[self.validations])
                self.validations += 1

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

        def train_dataloader(self) -> DataLoader:
            return DataLoader(RandomDataset(4))

        def val_dataloader(self) -> DataLoader:
            return DataLoader(RandomDataset(1, seed=1))

    return Scored()


def fit(ns: Any, tmp_path: Path, epochs: int = 2, model: Any = None, **kwargs: Any) -> Any:
    """Fit with one ModelCheckpoint(dirpath=tmp_path/ns.name, **kwargs); return it."""
    flags = {
        key: kwargs.pop(key)
        for key in ("val_check_interval", "limit_val_batches", "check_val_every_n_epoch")
        if key in kwargs
    }
    callback = ns.module.callbacks.ModelCheckpoint(dirpath=str(tmp_path / ns.name), **kwargs)
    trainer = ns.trainer(
        max_epochs=epochs, enable_checkpointing=True, callbacks=[callback], **flags
    )
    trainer.fit(model or score_module(ns))
    return callback


def outcome(callback: Any) -> dict[str, Any]:
    """What a run left: the files, and the callback's view of them (names only)."""
    name = os.path.basename
    score = callback.best_model_score
    return {
        "files": sorted(os.listdir(callback.dirpath)),
        "best": name(callback.best_model_path),
        "score": None if score is None else round(float(score), 4),
        "last": name(callback.last_model_path),
        "top_k": sorted(name(p) for p in callback.best_k_models),
    }


def test_validation_twice_per_epoch_saves_at_validation_end(ns: Any, tmp_path: Path) -> None:
    callback = fit(
        ns, tmp_path, monitor="val.score", save_top_k=2, val_check_interval=0.5,
        filename="{epoch}-{step}-{val.score:.1f}",
    )  # fmt: skip
    # validations at steps 2, 4, 6, 8 score 0.9, 0.4, 0.7, 0.2: the two lowest stay
    kept = ["epoch=0-step=4-val.score=0.4.ckpt", "epoch=1-step=8-val.score=0.2.ckpt"]
    assert outcome(callback) == {
        "files": kept,
        "best": kept[1],
        "score": 0.2,
        "last": "",
        "top_k": kept,
    }


def test_step_saves_wait_for_a_validation_metric(ns: Any, tmp_path: Path) -> None:
    """Step 1 has no score yet and steps 4 and 8 end an epoch with a validation to come: those
    saves wait for the validation's end (and its fresh score); the others use the last score."""
    callback = fit(
        ns, tmp_path, monitor="val.score", every_n_train_steps=1, save_top_k=-1, mode="max",
        val_check_interval=2, filename="{step}-{val.score:.1f}",
    )  # fmt: skip
    assert outcome(callback)["files"] == [
        "step=2-val.score=0.9.ckpt",
        "step=3-val.score=0.9.ckpt",
        "step=4-val.score=0.4.ckpt",
        "step=5-val.score=0.4.ckpt",
        "step=6-val.score=0.4.ckpt",
        "step=7-val.score=0.7.ckpt",
        "step=8-val.score=0.2.ckpt",
    ]
    assert outcome(callback)["best"] == "step=2-val.score=0.9.ckpt"


def test_save_last_link_and_top_k_zero(ns: Any, tmp_path: Path) -> None:
    linked = fit(ns, tmp_path / "link", save_last="link", limit_val_batches=0)
    last = Path(linked.dirpath) / "last.ckpt"
    assert last.is_symlink() and os.readlink(last) == "epoch=1-step=8.ckpt"
    assert outcome(linked)["files"] == ["epoch=1-step=8.ckpt", "last.ckpt"]
    only_last = fit(ns, tmp_path / "zero", save_last=True, save_top_k=0, limit_val_batches=0)
    assert outcome(only_last)["files"] == ["last.ckpt"]
    assert not Path(only_last.last_model_path).is_symlink()


def test_time_interval_and_no_version_counter(ns: Any, tmp_path: Path) -> None:
    timed = fit(
        ns, tmp_path / "timed", epochs=1, train_time_interval=timedelta(0), save_top_k=-1,
        limit_val_batches=0,
    )  # fmt: skip
    assert outcome(timed)["files"] == [f"epoch=0-step={s}.ckpt" for s in range(1, 5)]
    overwrite = fit(
        ns, tmp_path / "same", monitor="val.score", filename="model", save_top_k=-1,
        enable_version_counter=False,
    )  # fmt: skip
    assert outcome(overwrite)["files"] == ["model.ckpt"]


def test_save_on_exception(ns: Any, tmp_path: Path) -> None:
    model = score_module(ns, fail_at_step=5)
    callback = ns.module.callbacks.ModelCheckpoint(
        dirpath=str(tmp_path / ns.name), save_on_exception=True, every_n_epochs=5
    )
    trainer = ns.trainer(max_epochs=2, enable_checkpointing=True, callbacks=[callback])
    with pytest.raises(RuntimeError, match="training failed"):
        trainer.fit(model)
    assert sorted(os.listdir(callback.dirpath)) == ["epoch=1-step=5.ckpt"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "median"}, "`mode` can be min, max but got median"),
        ({"save_top_k": 2}, "No quantity for top_k to track"),
        ({"save_top_k": -2}, "Must be >= -1"),
        ({"every_n_train_steps": 2, "every_n_epochs": 1}, "should be mutually exclusive"),
    ],
)
def test_argument_errors(ns: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(MisconfigurationException if ns.name == "reference" else Exception) as e:
        ns.module.callbacks.ModelCheckpoint(**kwargs)
    assert message in str(e.value)


def test_a_metric_never_logged_is_an_error_once_validation_ran(ns: Any, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="could not find the monitored key"):
        fit(ns, tmp_path, monitor="missing")


def test_enable_checkpointing_false_with_a_checkpoint_callback(ns: Any) -> None:
    with pytest.raises(Exception, match="enable_checkpointing=False"):
        ns.trainer(callbacks=[ns.module.callbacks.ModelCheckpoint()])


# ----------------------------------------------------------------- reference-only details
def _trainer(tmp_path: Path, **flags: Any) -> L.Trainer:
    quiet = {"logger": False, "enable_progress_bar": False, "enable_model_summary": False}
    return L.Trainer(default_root_dir=tmp_path, **quiet, **flags)


def test_state_is_restored_on_resume_and_best_files_survive(tmp_path: Path) -> None:
    callback = L.callbacks.ModelCheckpoint(
        dirpath=tmp_path / "c", monitor="val.score", save_last=True
    )
    _trainer(tmp_path, max_epochs=2, callbacks=[callback]).fit(score_module(L))
    resumed = L.callbacks.ModelCheckpoint(
        dirpath=tmp_path / "c", monitor="val.score", save_last=True
    )
    model = score_module(L)
    model.validations = 2
    _trainer(tmp_path, max_epochs=3, callbacks=[resumed]).fit(model, ckpt_path="last")
    assert os.path.basename(resumed.best_model_path) == "epoch=1-step=8.ckpt"  # 0.4 < 0.7
    assert float(resumed.best_model_score) == pytest.approx(0.4)
    assert sorted(os.listdir(tmp_path / "c")) == ["epoch=1-step=8.ckpt", "last.ckpt"]


def test_a_changed_dirpath_keeps_only_the_best_path(tmp_path: Path) -> None:
    first = L.callbacks.ModelCheckpoint(dirpath=tmp_path / "a")
    first.best_model_path = "somewhere.ckpt"
    second = L.callbacks.ModelCheckpoint(dirpath=tmp_path / "b")
    with pytest.warns(UserWarning, match="dirpath has changed"):
        second.load_state_dict(first.state_dict())
    assert second.best_model_path == "somewhere.ckpt"


def test_last_picks_the_newest_last_file_and_best_needs_a_callback(tmp_path: Path) -> None:
    callback = L.callbacks.ModelCheckpoint(dirpath=tmp_path / "c", save_last=True)
    trainer = _trainer(tmp_path, max_epochs=1, callbacks=[callback])
    trainer.fit(score_module(L))
    older = tmp_path / "c" / "last-v1.ckpt"
    older.write_bytes((tmp_path / "c" / "last.ckpt").read_bytes())
    os.utime(older, (1, 1))
    assert callback.find_last_checkpoints(trainer) == {
        str(tmp_path / "c" / "last.ckpt"),
        str(older),
    }
    trainer.validate(score_module(L), ckpt_path="last")
    assert trainer.ckpt_path == str(tmp_path / "c" / "last.ckpt")
    with pytest.raises(ValueError, match="`ModelCheckpoint` is not configured"):
        _trainer(tmp_path, enable_checkpointing=False).validate(score_module(L), ckpt_path="best")


def test_validate_without_a_model_after_fit_uses_the_best_checkpoint(tmp_path: Path) -> None:
    callback = L.callbacks.ModelCheckpoint(dirpath=tmp_path / "c", monitor="val.score")
    trainer = _trainer(tmp_path, max_epochs=2, callbacks=[callback])
    trainer.fit(score_module(L))
    with pytest.warns(UserWarning, match="The best model of the previous `fit` call will be used"):
        trainer.validate()
    assert trainer.ckpt_path == callback.best_model_path
