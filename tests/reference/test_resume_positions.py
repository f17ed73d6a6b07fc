"""Where a resumed fit continues, and exact resume beyond the conformance clauses.

Tests taking ``ns`` save and resume with the same framework -- the reference, then real
Lightning -- and must see the same hooks at the same (epoch, batch) positions.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import torch
from reference_models import RandomDataset
from torch.utils.data import DataLoader


def recorder_classes(ns: Any) -> tuple[type, type]:
    class Recorded(ns.LightningModule):
        """Linear(32, 2) on 4 one-sample batches; SGD; records where things happen."""

        def __init__(self, shuffle: bool = False, dropout: float = 0.0) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(32, 2)
            self.dropout = torch.nn.Dropout(dropout)
            self.shuffle = shuffle
            self.events: list[tuple[Any, ...]] = []

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            self.events.append(("train", self.current_epoch, batch_idx))
            out = self.layer(self.dropout(batch))
            return torch.nn.functional.mse_loss(out, torch.ones_like(out))

        def validation_step(self, batch: Any, batch_idx: int) -> Any:
            self.events.append(("val", self.current_epoch, batch_idx))

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

        def train_dataloader(self) -> DataLoader:
            return DataLoader(RandomDataset(4), shuffle=self.shuffle)

        def val_dataloader(self) -> DataLoader:
            return DataLoader(RandomDataset(2, seed=1))

        def on_train_start(self) -> None:
            self.events.append(("on_train_start", self.current_epoch, self.global_step))

        def on_train_epoch_start(self) -> None:
            self.events.append(("on_train_epoch_start", self.current_epoch))

        def on_train_epoch_end(self) -> None:
            self.events.append(("on_train_epoch_end", self.current_epoch))

    class Sanity(ns.Callback):
        def on_sanity_check_start(self, trainer: Any, pl_module: Any) -> None:
            pl_module.events.append(("sanity",))

    return Recorded, Sanity


def saver(ns: Any, path: Path, at: int | str) -> Any:
    """Saves at global step ``at`` (in on_train_batch_end), or in on_train_epoch_end."""

    class Save(ns.Callback):
        def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
            if trainer.global_step == at:
                trainer.save_checkpoint(path)

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            if at == "epoch_end":
                trainer.save_checkpoint(path)

    return Save()


def resumed_events(ns: Any, tmp_path: Path, first: dict[str, Any], second: dict[str, Any],
                   save_at: int | str | None = None) -> list[tuple[Any, ...]]:  # fmt: skip
    """Fit with ``first`` flags (saving at ``save_at``, or after fit), resume with ``second``;
    return the resumed run's events."""
    Recorded, Sanity = recorder_classes(ns)
    path = tmp_path / f"{ns.name}.ckpt"
    callbacks = [saver(ns, path, save_at)] if save_at else []
    trainer = ns.trainer(**first, callbacks=callbacks)
    trainer.fit(Recorded())
    if save_at is None:
        trainer.save_checkpoint(path)
    model = Recorded()
    ns.trainer(**second, callbacks=[Sanity()]).fit(model, ckpt_path=str(path))
    return model.events


NO_VAL = {"limit_val_batches": 0}
VAL = {"limit_val_batches": 1, "num_sanity_val_steps": 1}


def test_an_epoch_end_checkpoint_starts_the_next_epoch(ns: Any, tmp_path: Path) -> None:
    events = resumed_events(ns, tmp_path, {"max_epochs": 1, **VAL}, {"max_epochs": 2, **VAL})
    assert events == [
        ("sanity",),
        ("val", 1, 0),
        ("on_train_start", 1, 4),
        ("on_train_epoch_start", 1),
        *[("train", 1, i) for i in range(4)],
        ("val", 1, 0),
        ("on_train_epoch_end", 1),
    ]


def test_a_mid_epoch_checkpoint_continues_the_epoch(ns: Any, tmp_path: Path) -> None:
    flags = {"max_epochs": 1, **VAL}
    events = resumed_events(ns, tmp_path, flags, flags, save_at=2)
    assert events == [  # no sanity check, no on_train_epoch_start
        ("on_train_start", 0, 2),
        ("train", 0, 2),
        ("train", 0, 3),
        ("val", 0, 0),
        ("on_train_epoch_end", 0),
    ]


def test_an_epoch_cut_short_by_max_steps_is_continued(ns: Any, tmp_path: Path) -> None:
    """Saved in on_train_epoch_end after max_steps ended the epoch early (facts §3.5)."""
    first = {"max_steps": 2, **NO_VAL}
    events = resumed_events(ns, tmp_path, first, {"max_steps": 6, **NO_VAL}, "epoch_end")
    assert events == [
        ("on_train_start", 0, 2),
        ("train", 0, 2),
        ("train", 0, 3),
        ("on_train_epoch_end", 0),
        ("on_train_epoch_start", 1),
        ("train", 1, 0),
        ("train", 1, 1),
        ("on_train_epoch_end", 1),
    ]


def test_a_save_at_the_last_batch_still_owes_validation_and_epoch_end(
    tmp_path: Path,
) -> None:
    """Lightning skips the saved epoch's pending validation and on_train_epoch_end (facts §3.5);
    the reference finishes that epoch, as the uninterrupted run did."""
    import reference as L

    class Namespace:
        name = "reference"
        LightningModule, Callback = L.LightningModule, L.Callback

        @staticmethod
        def trainer(**flags: Any) -> Any:
            quiet = {"logger": False, "enable_progress_bar": False, "enable_model_summary": False,
                     "enable_checkpointing": False, "default_root_dir": tmp_path}  # fmt: skip
            return L.Trainer(**quiet, **flags)

    events = resumed_events(
        Namespace, tmp_path, {"max_epochs": 1, **VAL}, {"max_epochs": 2, **VAL}, save_at=4
    )
    assert events == [
        ("on_train_start", 0, 4),
        ("val", 0, 0),
        ("on_train_epoch_end", 0),
        ("on_train_epoch_start", 1),
        *[("train", 1, i) for i in range(4)],
        ("val", 1, 0),
        ("on_train_epoch_end", 1),
    ]


# ------------------------------------------------------------------------- exact resume
def _exact_classes() -> type:
    import reference as L

    Recorded, _ = recorder_classes(L)

    class NoisyModule(Recorded):
        """The loss also draws from Python's and NumPy's global generators."""

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            numpy = pytest.importorskip("numpy")
            loss = super().training_step(batch, batch_idx)
            return loss * (1 + random.random() + float(numpy.random.rand()))

    return NoisyModule


def _fit_exact(tmp_path: Path, name: str, ckpt: str | None = None, saves: Any = None) -> Any:
    import reference as L

    NoisyModule = _exact_classes()
    L.seed_everything(7, verbose=False)
    model = NoisyModule(shuffle=True, dropout=0.3)
    trainer = L.Trainer(
        max_epochs=2, val_check_interval=2, limit_val_batches=1, num_sanity_val_steps=1,
        logger=False, enable_progress_bar=False, enable_model_summary=False,
        enable_checkpointing=False, default_root_dir=tmp_path / name,
        callbacks=[saves] if saves else [],
    )  # fmt: skip
    trainer.fit(model, ckpt_path=ckpt)
    return model


def test_exact_resume_with_python_numpy_rng_and_validation_mid_epoch(tmp_path: Path) -> None:
    import reference as L

    paths: dict[int, str] = {}

    class SaveAll(L.Callback):
        def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
            paths[trainer.global_step] = str(tmp_path / f"step={trainer.global_step}.ckpt")
            trainer.save_checkpoint(paths[trainer.global_step])

        def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
            if not trainer.sanity_checking:  # a save while validation runs, mid-epoch
                key = 100 + trainer.global_step
                paths[key] = str(tmp_path / f"val={trainer.global_step}.ckpt")
                trainer.save_checkpoint(paths[key])

    whole = _fit_exact(tmp_path, "whole", saves=SaveAll())
    expected = {k: v.clone() for k, v in whole.state_dict().items()}
    resumable = {k: p for k, p in sorted(paths.items()) if k not in (8, 108)}  # not the end
    assert len(resumable) == 10
    for key, path in resumable.items():
        resumed = _fit_exact(tmp_path, f"resume-{key}", ckpt=path)
        for name, value in expected.items():
            assert torch.equal(resumed.state_dict()[name], value), f"resumed from {path}: {name}"
