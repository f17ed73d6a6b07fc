"""Seed 002's checkpoint and hyperparameter examples, run as written with ``import reference as L``
(and, where the test takes ``ns``, with real Lightning too).

Sections: "Save Hyperparameters" (save_hyperparameters, Excluding hyperparameters,
load_from_checkpoint), "Properties > hparams", "Test Loop"/"Prediction Loop" (after fit, the
best weights are used), "Inference in Production" (save_checkpoint, load_from_checkpoint).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import reference as L


def classification_data(n: int = 16) -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=generator)
    return DataLoader(TensorDataset(x, (x.sum(1) > 0).long()), batch_size=4)


def quiet(ns: Any, **flags: Any) -> Any:
    return ns.trainer(**flags)


def test_save_hyperparameters_example(ns: Any) -> None:
    class LitMNIST(ns.LightningModule):
        def __init__(self, layer_1_dim=128, learning_rate=1e-2):
            super().__init__()
            # call this to save (layer_1_dim=128, learning_rate=1e-4) to the checkpoint
            self.save_hyperparameters()
            self.all = dict(self.hparams)

            # equivalent
            self.save_hyperparameters("layer_1_dim", "learning_rate")

            # Now possible to access layer_1_dim from hparams
            self.seen = self.hparams.layer_1_dim

    model = LitMNIST(layer_1_dim=64)
    assert model.all == dict(model.hparams) == {"layer_1_dim": 64, "learning_rate": 1e-2}
    assert model.seen == 64


def test_excluding_and_load_from_checkpoint_example(ns: Any, tmp_path: Path) -> None:
    class MyGenerator(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layer(x)

    class LitMNIST(ns.LightningModule):
        def __init__(self, loss_fx, generator_network, layer_1_dim=128):
            super().__init__()
            self.layer_1_dim = layer_1_dim
            self.loss_fx = loss_fx
            self.generator_network = generator_network
            self.head = torch.nn.Linear(4, 2)

            # call this to save only (layer_1_dim=128) to the checkpoint
            self.save_hyperparameters("layer_1_dim")
            self.named = dict(self.hparams)

            # equivalent
            self.save_hyperparameters(ignore=["loss_fx", "generator_network"])

        def training_step(self, batch, batch_idx):
            x, y = batch
            return self.loss_fx(self.head(self.generator_network(x)), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    model = LitMNIST(F.cross_entropy, MyGenerator(), layer_1_dim=32)
    assert model.named == dict(model.hparams) == {"layer_1_dim": 32}
    trainer = quiet(ns, max_epochs=1)
    trainer.fit(model, classification_data())
    PATH = tmp_path / "lit.ckpt"
    trainer.save_checkpoint(PATH)

    # the excluded parameters were `loss_fx` and `generator_network`
    generator = MyGenerator()
    loaded = LitMNIST.load_from_checkpoint(
        PATH, loss_fx=F.cross_entropy, generator_network=generator
    )
    assert loaded.generator_network is generator and loaded.layer_1_dim == 32
    for name, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name


def test_hparams_property_example(ns: Any) -> None:
    class Model(ns.LightningModule):
        def __init__(self, learning_rate):
            super().__init__()
            self.save_hyperparameters()
            self.layer = torch.nn.Linear(1, 1)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=self.hparams.learning_rate)

    assert Model(0.003).configure_optimizers().param_groups[0]["lr"] == 0.003


def classification_task(base: type) -> type:
    class ClassificationTask(base):  # type: ignore[misc,valid-type]
        """Seed 002, "Inference in Production" (without save_hyperparameters, as in the docs)."""

        def __init__(self, model):
            super().__init__()
            self.model = model
            self.used: dict[str, torch.Tensor] = {}

        def training_step(self, batch, batch_idx):
            x, y = batch
            return F.cross_entropy(self.model(x), y)

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", F.cross_entropy(self.model(x), y))

        def test_step(self, batch, batch_idx):
            self.used["test"] = self.model.weight.detach().clone()

        def predict_step(self, batch, batch_idx, dataloader_idx=0):
            self.used["predict"] = self.model.weight.detach().clone()
            return self.model(batch[0])

        def forward(self, x):
            return self.model(x)

        def configure_optimizers(self):
            return torch.optim.Adam(self.model.parameters(), lr=0.02)

    return ClassificationTask


def test_test_and_predict_after_fit_use_the_best_weights(tmp_path: Path) -> None:
    """Seed 002, "Test Loop"/"Prediction Loop": after fit, ``trainer.test(dataloaders=...)``
    "automatically auto-loads the best weights from the previous run"."""
    torch.manual_seed(0)  # the assertion below needs a run whose best epoch is not the last
    task = classification_task(L.LightningModule)(torch.nn.Linear(4, 2))
    checkpoint = L.callbacks.ModelCheckpoint(monitor="val_loss", mode="max")  # best = worst loss
    trainer = L.Trainer(
        max_epochs=3, default_root_dir=tmp_path, callbacks=[checkpoint], logger=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(task, classification_data(), classification_data(8))
    best = torch.load(checkpoint.best_model_path, weights_only=True)["state_dict"]["model.weight"]
    assert not torch.equal(best, task.model.weight.detach())  # best is not the final state
    with pytest.warns(UserWarning, match="best model of the previous `fit`"):
        trainer.test(dataloaders=classification_data(4), verbose=False)
    with pytest.warns(UserWarning, match="best model of the previous `fit`"):
        trainer.predict(dataloaders=classification_data(4))
    assert torch.equal(task.used["test"], best) and torch.equal(task.used["predict"], best)


def test_inference_in_production_example(ns: Any, tmp_path: Path) -> None:
    """The docs load ``ClassificationTask.load_from_checkpoint("best_model.ckpt")``; the task
    saves no hyperparameters, so (in Lightning too) its ``model`` must be passed at load."""
    task = classification_task(ns.LightningModule)(torch.nn.Linear(4, 2))
    trainer = quiet(ns, max_epochs=1)
    trainer.fit(task, classification_data(), classification_data(8))
    trainer.save_checkpoint(tmp_path / "best_model.ckpt")

    with pytest.raises(TypeError, match="model"):
        type(task).load_from_checkpoint(tmp_path / "best_model.ckpt")
    # use model after training or load weights and drop into the production system
    model = type(task).load_from_checkpoint(
        tmp_path / "best_model.ckpt", model=torch.nn.Linear(4, 2)
    )
    x = torch.randn(3, 4)
    model.eval()
    with torch.no_grad():
        y_hat = model(x)
    assert torch.equal(y_hat, task(x).detach())
