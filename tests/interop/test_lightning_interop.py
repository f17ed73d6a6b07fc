"""Checkpoints cross between real Lightning and the reference, in both directions.

* Lightning -> reference: the committed files in ``fixtures/lightning_checkpoints/`` (written by
  Lightning 2.6) load with the reference's ``load_from_checkpoint`` and resume in its Trainer at
  the position their manifest names, with the saved optimizer, scheduler and callback state.
* reference -> Lightning: files the reference writes load with Lightning's
  ``load_from_checkpoint`` and resume in Lightning's Trainer at the right position.

Both sides use the same model classes (``fixtures/lightning_checkpoints/models.py``, built on
each framework's base classes). Skipped when ``pytorch_lightning`` is not installed.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

import reference as L
from fixtures.lightning_checkpoints.models import build

pl = pytest.importorskip("pytorch_lightning")

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lightning_checkpoints"


def manifest(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def recording(framework: Any) -> Any:
    """The fixture classes on ``framework``'s bases; the module records what training saw."""
    classes = build(framework.LightningModule, framework.LightningDataModule, framework.Callback)

    class Recorded(classes.TinyClassifier):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.trained: list[tuple[int, int]] = []
            self.at_train_start: dict[str, Any] = {}

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            self.trained.append((int(self.current_epoch), int(batch_idx)))
            return super().training_step(batch, batch_idx)

        def on_train_start(self) -> None:
            optimizer = self.trainer.optimizers[0]
            self.at_train_start = {
                "global_step": int(self.trainer.global_step),
                "epoch": int(self.trainer.current_epoch),
                "lr": optimizer.param_groups[0]["lr"],
                "adam_step": float(next(iter(optimizer.state.values()), {"step": 0})["step"]),
            }

    Recorded.__qualname__ = "TinyClassifier"
    classes.Recorded = Recorded
    return classes


def trainer_of(framework: Any, root: Path, **flags: Any) -> Any:
    quiet = {
        "accelerator": "cpu",
        "devices": 1,
        "logger": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "enable_checkpointing": False,
        "default_root_dir": str(root),
        "num_sanity_val_steps": 0,
    }
    return framework.Trainer(**{**quiet, **flags})


def expected_weights(name: str) -> dict[str, torch.Tensor]:
    return {
        key: torch.tensor(record["values"], dtype=torch.float32)
        for key, record in manifest(name)["state_dict"].items()
    }


def assert_weights(module: torch.nn.Module, expected: dict[str, torch.Tensor]) -> None:
    observed = module.state_dict()
    assert set(observed) == set(expected)
    for key, value in expected.items():
        assert torch.equal(observed[key], value), f"{key} differs"


@pytest.fixture(autouse=True)
def _quiet() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# ------------------------------------------------------------------- Lightning -> reference
@pytest.mark.parametrize("name", ["end_of_epoch", "mid_epoch", "weights_only", "with_datamodule"])
def test_reference_loads_lightning_checkpoints(name: str) -> None:
    classes = recording(L)
    module = classes.TinyClassifier.load_from_checkpoint(FIXTURES / f"{name}.ckpt")
    assert isinstance(module, L.LightningModule)
    assert dict(module.hparams) == manifest(name)["module"]["init_kwargs"]
    assert_weights(module, expected_weights(name))


def test_reference_loads_a_lightning_datamodule() -> None:
    classes = recording(L)
    datamodule = classes.TinyDataModule.load_from_checkpoint(FIXTURES / "with_datamodule.ckpt")
    expected = manifest("with_datamodule")["datamodule"]
    assert dict(datamodule.hparams) == expected["init_kwargs"]
    assert datamodule.loaders_served == expected["state"]["loaders_served"]


@pytest.mark.parametrize(
    ("name", "epochs", "positions"),
    [
        ("end_of_epoch", 3, [(2, 0), (2, 1), (2, 2), (2, 3)]),
        ("mid_epoch", 2, [(1, 2), (1, 3)]),
        ("with_datamodule", 2, [(1, 0), (1, 1), (1, 2), (1, 3)]),
    ],
)
def test_reference_resumes_lightning_checkpoints(
    name: str, epochs: int, positions: list[tuple[int, int]], tmp_path: Path
) -> None:
    info = manifest(name)
    classes = recording(L)
    model = classes.Recorded()
    counter = classes.BatchCounter()
    datamodule = classes.TinyDataModule() if info["datamodule"] else None
    trainer = trainer_of(L, tmp_path, max_epochs=epochs, callbacks=[counter])
    trainer.fit(model, datamodule=datamodule, ckpt_path=FIXTURES / f"{name}.ckpt")

    optimizer = info["optimizer_states"][0]
    assert model.at_train_start == {
        "global_step": info["global_step"],
        "epoch": info["resumes_at"]["epoch"],
        "lr": optimizer["lr"],
        "adam_step": optimizer["step"],
    }
    assert model.trained == positions
    assert trainer.global_step == info["global_step"] + len(positions)
    assert counter.batches == info["callback_states"]["BatchCounter"]["batches"] + len(positions)
    if datamodule is not None:  # restored (1), then asked for its loader once more
        assert datamodule.loaders_served == info["datamodule"]["state"]["loaders_served"] + 1


def test_a_weights_only_lightning_file_cannot_resume_training(tmp_path: Path) -> None:
    classes = recording(L)
    trainer = trainer_of(L, tmp_path, max_epochs=2)
    with pytest.raises(KeyError, match="weights_only.ckpt.*only the model"):
        trainer.fit(classes.Recorded(), ckpt_path=FIXTURES / "weights_only.ckpt")


def test_resuming_a_lightning_file_trains_as_lightning_does(tmp_path: Path) -> None:
    """From an end-of-epoch file (no randomness left in training) both end bit-identical."""
    finals = []
    for framework in (L, pl):
        model = recording(framework).Recorded()
        trainer = trainer_of(framework, tmp_path / framework.__name__, max_epochs=3)
        trainer.fit(model, ckpt_path=str(FIXTURES / "end_of_epoch.ckpt"))
        finals.append({k: v.detach().clone() for k, v in model.state_dict().items()})
    assert_weights_equal(*finals)


def assert_weights_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert set(a) == set(b)
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs"


# ------------------------------------------------------------------- reference -> Lightning
def reference_run(root: Path, **checkpoint_kwargs: Any) -> tuple[Any, Path]:
    """Train the fixture model 2 epochs in the reference with a ModelCheckpoint; return the
    model and the written file."""
    L.seed_everything(0, verbose=False)
    classes = recording(L)
    model = classes.Recorded()
    callback = L.callbacks.ModelCheckpoint(dirpath=str(root / "ckpts"), **checkpoint_kwargs)
    trainer = trainer_of(
        L,
        root,
        max_epochs=2,
        enable_checkpointing=True,
        callbacks=[classes.BatchCounter(), callback],
    )
    trainer.fit(model, datamodule=classes.TinyDataModule())
    return model, Path(callback.best_model_path)


def test_lightning_loads_reference_checkpoints(tmp_path: Path) -> None:
    trained, path = reference_run(tmp_path)
    classes = recording(pl)
    module = classes.TinyClassifier.load_from_checkpoint(path)
    assert isinstance(module, pl.LightningModule)
    assert dict(module.hparams) == dict(trained.hparams)
    assert_weights_equal(trained.state_dict(), module.state_dict())
    datamodule = classes.TinyDataModule.load_from_checkpoint(path)
    assert dict(datamodule.hparams) == {"batch_size": 2, "samples": 8}
    assert datamodule.loaders_served == 1


def test_lightning_resumes_a_reference_checkpoint_from_an_epoch_end(tmp_path: Path) -> None:
    trained, path = reference_run(tmp_path)  # the file of the end of epoch 1 (global step 8)
    finals = []
    for framework in (pl, L):
        classes = recording(framework)
        model = classes.Recorded()
        counter = classes.BatchCounter()
        trainer = trainer_of(
            framework, tmp_path / framework.__name__, max_epochs=3, callbacks=[counter]
        )
        trainer.fit(model, datamodule=classes.TinyDataModule(), ckpt_path=str(path))
        assert model.at_train_start == {
            "global_step": 8,
            "epoch": 2,
            "lr": 0.0125,
            "adam_step": 8.0,
        }
        assert model.trained == [(2, i) for i in range(4)], framework.__name__
        assert counter.batches == 12, framework.__name__
        finals.append({k: v.detach().clone() for k, v in model.state_dict().items()})
    assert_weights_equal(*finals)


def test_lightning_resumes_a_reference_checkpoint_mid_epoch(tmp_path: Path) -> None:
    _, path = reference_run(tmp_path, every_n_train_steps=6, filename="mid")
    classes = recording(pl)
    model = classes.Recorded()
    trainer = trainer_of(pl, tmp_path / "pl", max_epochs=2)
    trainer.fit(model, datamodule=classes.TinyDataModule(), ckpt_path=str(path))
    assert model.at_train_start["global_step"] == 6
    assert model.at_train_start["epoch"] == 1
    assert model.trained == [(1, 2), (1, 3)]
    assert trainer.global_step == 8
