"""The LightningDataModule path: data from a datamodule, its hooks, its transfer hooks."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from reference_models import BoringModel, RandomDataset
from torch.utils.data import DataLoader

import reference as L


class DataModule(L.LightningDataModule):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def prepare_data(self) -> None:
        self.calls.append("prepare_data")

    def setup(self, stage: str) -> None:
        self.calls.append(f"setup:{stage}")
        self.data = RandomDataset(6)

    def teardown(self, stage: str) -> None:
        self.calls.append(f"teardown:{stage}")

    def train_dataloader(self) -> DataLoader:
        self.calls.append("train_dataloader")
        return DataLoader(self.data, batch_size=2)

    def val_dataloader(self) -> DataLoader:
        self.calls.append("val_dataloader")
        return DataLoader(self.data, batch_size=3)

    def test_dataloader(self) -> DataLoader:
        self.calls.append("test_dataloader")
        return DataLoader(self.data, batch_size=3)

    def predict_dataloader(self) -> DataLoader:
        self.calls.append("predict_dataloader")
        return DataLoader(self.data, batch_size=3)


def test_fit_validate_test_predict_take_data_from_the_datamodule(make_trainer: Any) -> None:
    dm = DataModule()
    model = BoringModel()
    trainer = make_trainer(max_epochs=1)
    trainer.fit(model, datamodule=dm)
    assert dm.calls == [
        "prepare_data",
        "setup:fit",
        "val_dataloader",
        "train_dataloader",
        "teardown:fit",
    ]
    assert trainer.datamodule is dm and dm.trainer is trainer
    assert trainer.num_training_batches == 3 and trainer.num_val_batches == [2]
    dm.calls.clear()
    trainer.validate(model, dm, verbose=False)  # a datamodule as the second argument
    trainer.test(model, datamodule=dm, verbose=False)
    predictions = trainer.predict(model, datamodule=dm)
    assert dm.calls == [
        "prepare_data",
        "setup:validate",
        "val_dataloader",
        "teardown:validate",
        "prepare_data",
        "setup:test",
        "test_dataloader",
        "teardown:test",
        "prepare_data",
        "setup:predict",
        "predict_dataloader",
        "teardown:predict",
    ]
    assert [p.shape for p in predictions] == [torch.Size([3, 2])] * 2


def test_prepare_data_respects_prepare_data_per_node(make_trainer: Any) -> None:
    dm = DataModule()
    dm.prepare_data_per_node = False  # only global rank 0 — which this process is
    make_trainer(max_epochs=1).fit(BoringModel(), datamodule=dm)
    assert dm.calls[0] == "prepare_data"


def test_datamodule_transfer_hooks_take_precedence(make_trainer: Any) -> None:
    seen: list[str] = []

    class Shifting(DataModule):
        def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
            seen.append("dm")
            return batch + 100

    class Model(BoringModel):
        def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
            seen.append("module")
            return batch

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            assert batch.min() > 50
            return super().training_step(batch, batch_idx)

    with pytest.warns(UserWarning, match="overridden `on_before_batch_transfer` in both"):
        make_trainer(max_epochs=1, limit_val_batches=0).fit(Model(), datamodule=Shifting())
    assert set(seen) == {"dm"}


def test_from_datasets(make_trainer: Any) -> None:
    dm = L.LightningDataModule.from_datasets(
        train_dataset=RandomDataset(8), val_dataset=RandomDataset(4), batch_size=4
    )
    trainer = make_trainer(max_epochs=1)
    trainer.fit(BoringModel(), datamodule=dm)
    assert trainer.num_training_batches == 2 and trainer.num_val_batches == [1]


def test_state_dict_defaults() -> None:
    dm = L.LightningDataModule()
    assert dm.state_dict() == {}
    dm.load_state_dict({})  # accepted, nothing to restore


def test_dataloaders_reload_every_n_epochs(make_trainer: Any) -> None:
    dm = DataModule()
    make_trainer(max_epochs=4, reload_dataloaders_every_n_epochs=2, num_sanity_val_steps=0).fit(
        BoringModel(), datamodule=dm
    )
    assert dm.calls.count("train_dataloader") == 2
    assert dm.calls.count("val_dataloader") == 2


@pytest.mark.parametrize("persistent", [False, True])
def test_worker_processes_stop_when_fit_ends_early(make_trainer: Any, persistent: bool) -> None:
    import multiprocessing

    loader = DataLoader(
        RandomDataset(32), batch_size=2, num_workers=2, persistent_workers=persistent
    )
    trainer = make_trainer(max_steps=2, limit_val_batches=0)
    trainer.fit(BoringModel(), train_dataloaders=loader)
    assert trainer.global_step == 2
    assert multiprocessing.active_children() == []
    trainer.fit_loop.epoch_loop.max_steps = 4  # the loader still works for another fit
    trainer.fit(BoringModel(), train_dataloaders=loader)
    assert multiprocessing.active_children() == []
