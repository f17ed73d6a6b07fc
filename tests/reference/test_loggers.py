"""Loggers: what lands in ``metrics.csv`` and TensorBoard, where, and at which steps."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import pytest
import torch
from reference_models import BoringModel
from torch.utils.data import DataLoader

import reference as L
from reference.loggers import CSVLogger, DummyLogger, TensorBoardLogger


def logging_model(ns: Any) -> Any:
    class Model(ns.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            self.log("a", float(batch_idx))
            self.log("b", float(batch_idx), on_epoch=True)
            return self.layer(batch).sum()

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log("v", float(batch_idx))
            self.log("vs", float(batch_idx), on_step=True)

        def on_train_epoch_end(self) -> None:
            self.log("e", 1.0)

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.0)

        def train_dataloader(self) -> DataLoader:
            return DataLoader(torch.ones(5, 2))

        def val_dataloader(self) -> DataLoader:
            return DataLoader(torch.ones(2, 2))

    return Model()


def test_csv_file_matches_lightning_row_for_row(ns: Any, tmp_path: Path) -> None:
    """Steps: the stepped-batch axis every ``log_every_n_steps``; epoch values at epoch end."""
    model = logging_model(ns)
    logger = ns.module.loggers.CSVLogger(tmp_path / "logs")
    trainer = ns.trainer(
        max_epochs=2, logger=logger, log_every_n_steps=2, accumulate_grad_batches=2
    )
    trainer.fit(model)
    trainer.validate(model, verbose=False)
    path = Path(trainer.log_dir) / "metrics.csv"
    assert path.parent == tmp_path / "logs" / "lightning_logs" / "version_0"
    assert sorted(os.listdir(path.parent)) == ["metrics.csv"]
    assert path.read_text() == EXPECTED_CSV


EXPECTED_CSV = """\
a,b_epoch,b_step,e,epoch,step,v,vs_epoch,vs_step
3.0,,3.0,,0,1,,,
,,,,,0,,,0.0
,,,,,1,,,1.0
,,,,0,2,0.5,0.5,
,2.0,,1.0,0,2,,,
1.0,,1.0,,1,3,,,
4.0,,4.0,,1,5,,,
,,,,,2,,,0.0
,,,,,3,,,1.0
,,,,1,5,0.5,0.5,
,2.0,,1.0,1,5,,,
,,,,,0,,,0.0
,,,,,1,,,1.0
,,,,2,6,0.5,0.5,
"""


def test_default_root_dir_expands_the_home_directory(
    ns: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    # "~/runs" must not become a folder named "~" in the working directory
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    trainer = ns.module.Trainer(default_root_dir="~/runs/../outputs", logger=False)
    assert trainer.default_root_dir == str(tmp_path / "outputs")
    assert trainer.log_dir == str(tmp_path / "outputs")


@pytest.mark.parametrize("kind", ["CSVLogger", "TensorBoardLogger"])
def test_a_logger_save_dir_under_home_is_written_there(
    ns: Any, kind: str, tmp_path: Path, monkeypatch: Any
) -> None:
    if kind == "TensorBoardLogger":
        pytest.importorskip("tensorboard")
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    logger_class = getattr(ns.module.loggers, kind)
    for _ in range(2):
        trainer = ns.trainer(
            max_epochs=1, limit_train_batches=2, limit_val_batches=0, enable_checkpointing=True,
            logger=logger_class("~/logs"),
        )  # fmt: skip
        trainer.fit(logging_model(ns))
    assert list(work.iterdir()) == []  # no folder named "~"
    runs = home / "logs" / "lightning_logs"
    assert sorted(p.name for p in runs.iterdir()) == ["version_0", "version_1"]
    assert (runs / "version_1" / "checkpoints" / "epoch=0-step=2.ckpt").is_file()


def test_versions_increment(tmp_path: Path) -> None:
    for expected in ("version_0", "version_1"):
        trainer = L.Trainer(
            max_epochs=1,
            logger=CSVLogger(tmp_path),
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.fit(BoringModel())
        assert Path(trainer.log_dir).name == expected
        assert (Path(trainer.log_dir) / "metrics.csv").exists() is False  # nothing logged
    assert CSVLogger(tmp_path, version="named").log_dir.endswith("named")


def test_default_logger_is_tensorboard_when_installed(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    class Logged(BoringModel):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            loss = self.loss(batch)
            self.log("train_loss", loss)
            return loss

    trainer = L.Trainer(
        max_epochs=2,
        default_root_dir=tmp_path,
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    assert isinstance(trainer.logger, TensorBoardLogger)
    trainer.fit(Logged())
    log_dir = tmp_path / "lightning_logs" / "version_0"
    assert trainer.log_dir == str(log_dir)
    events = EventAccumulator(str(log_dir))
    events.Reload()
    steps = [event.step for event in events.Scalars("train_loss")]
    assert steps == list(range(8))
    assert [event.step for event in events.Scalars("epoch")][-1] == 7


def test_csv_is_the_fallback_without_tensorboard(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr("reference.trainer.configuration.tensorboard_available", lambda: False)
    with pytest.warns(UserWarning, match="will use `CSVLogger`"):
        trainer = L.Trainer(default_root_dir=tmp_path)
    assert isinstance(trainer.logger, CSVLogger)
    assert trainer.logger.save_dir == str(tmp_path)


def test_logger_false_and_lists(tmp_path: Path) -> None:
    assert L.Trainer(logger=False).loggers == []
    csv_logger, tb = CSVLogger(tmp_path), TensorBoardLogger(tmp_path)
    trainer = L.Trainer(logger=[csv_logger, tb])
    assert trainer.loggers == [csv_logger, tb] and trainer.logger is csv_logger
    assert trainer.log_dir == csv_logger.log_dir


def test_fast_dev_run_silences_loggers(tmp_path: Path) -> None:
    trainer = L.Trainer(
        fast_dev_run=True,
        default_root_dir=tmp_path,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    assert [type(lg) for lg in trainer.loggers] == [DummyLogger]
    trainer.fit(BoringModel())
    assert not (tmp_path / "lightning_logs").exists()


def test_logger_gets_metrics_at_log_every_n_steps(make_trainer: Any) -> None:
    class Memory(L.loggers.Logger):
        name, version = "memory", 0

        def __init__(self) -> None:
            self.rows: list[tuple[int, dict]] = []

        def log_metrics(self, metrics: dict, step: int | None = None) -> None:
            self.rows.append((step, dict(metrics)))

        def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
            pass

    class Logged(BoringModel):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            self.log("i", float(batch_idx))
            return super().training_step(batch, batch_idx)

    memory = Memory()
    make_trainer(max_epochs=1, logger=memory, log_every_n_steps=3, limit_val_batches=0).fit(
        Logged(batches=7)
    )
    assert memory.rows == [(2, {"i": 2.0, "epoch": 0}), (5, {"i": 5.0, "epoch": 0})]
    assert all(isinstance(v, float | int) for _, row in memory.rows for v in row.values())


def test_csv_rows_gain_columns_as_new_keys_appear(tmp_path: Path) -> None:
    logger = CSVLogger(tmp_path)
    logger.log_metrics({"a": 1.0}, step=0)
    logger.save()
    logger.log_metrics({"b": torch.tensor(2.0)}, step=1)
    logger.save()
    with open(Path(logger.log_dir) / "metrics.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert rows == [{"a": "1.0", "b": "", "step": "0"}, {"a": "", "b": "2.0", "step": "1"}]


def test_hparams_yaml_written_by_log_hyperparams(tmp_path: Path) -> None:
    import yaml

    logger = CSVLogger(tmp_path)
    logger.log_hyperparams({"lr": 0.1, "layers": [1, 2]})
    saved = yaml.safe_load((Path(logger.log_dir) / "hparams.yaml").read_text())
    assert saved == {"lr": 0.1, "layers": [1, 2]}
