"""The examples of seed 002 (Lightning 2.x ``lightning_module.rst``) with ``import reference as L``.

Each test is one example, with the document's code kept as written where it runs as written.
Substitutions: a tiny language model for ``Transformer``, a tiny token dataset for
``WikiText2``, small MLPs for ``resnet50()``/``vgg16()``/``BidirectionalRNN()``, a local
``accuracy`` for torchmetrics', and ``accelerator="cpu", devices=1`` where the example asks for
two GPUs. The checkpoint and hyperparameter examples are in ``test_checkpoint_documented.py``;
the ``Seq2Seq`` and ``GANTask`` sketches are fragments (``...`` bodies, a ``forward`` that calls
itself) and are not run.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

import reference as L
from reference import Trainer

VOCAB = 11
SEQ = 6


class Transformer(torch.nn.Module):
    """Stands in for ``lightning.pytorch.demos.Transformer``: log-probabilities per token."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, 16)
        self.decoder = torch.nn.Linear(16, vocab_size)

    def forward(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.decoder(self.embedding(inputs)), dim=-1).view(
            -1, self.decoder.out_features
        )


class WikiText2(Dataset):
    """Stands in for ``lightning.pytorch.demos.WikiText2``: (inputs, target) token sequences."""

    vocab_size = VOCAB

    def __init__(self, length: int = 8) -> None:
        generator = torch.Generator().manual_seed(0)
        self.tokens = torch.randint(0, VOCAB, (length, SEQ + 1), generator=generator)

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        row = self.tokens[index]
        return row[:-1], row[1:]


QUIET = {
    "logger": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "enable_checkpointing": False,
}


def quiet_trainer(tmp_path: Any, **flags: Any) -> Trainer:
    return L.Trainer(default_root_dir=tmp_path, **{**QUIET, **flags})


# ------------------------------------------------------------------ "Starter Example"
class LightningTransformer(L.LightningModule):
    def __init__(self, vocab_size):
        super().__init__()
        self.model = Transformer(vocab_size=vocab_size)

    def forward(self, inputs, target):
        return self.model(inputs, target)

    def training_step(self, batch, batch_idx):
        inputs, target = batch
        output = self(inputs, target)
        loss = torch.nn.functional.nll_loss(output, target.view(-1))
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.model.parameters(), lr=0.1)


def test_starter_example(tmp_path: Any) -> None:
    dataset = WikiText2()
    dataloader = DataLoader(dataset)
    model = LightningTransformer(vocab_size=dataset.vocab_size)
    before = model.model.decoder.weight.detach().clone()

    trainer = L.Trainer(fast_dev_run=100, default_root_dir=tmp_path, enable_progress_bar=False)
    trainer.fit(model=model, train_dataloaders=dataloader)

    assert trainer.global_step == len(dataset)  # fast_dev_run=100 runs at most 100 batches
    assert not torch.equal(before, model.model.decoder.weight)


# --------------------------------------------------- "Train Epoch-level Metrics"
def test_train_epoch_level_metrics(tmp_path: Any) -> None:
    class Model(LightningTransformer):
        def training_step(self, batch, batch_idx):
            inputs, target = batch
            output = self.model(inputs, target)
            loss = torch.nn.functional.nll_loss(output, target.view(-1))

            # logs metrics for each training_step,
            # and the average across the epoch, to the progress bar and logger
            self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True, logger=True)
            return loss

    trainer = quiet_trainer(tmp_path, max_epochs=1)
    trainer.fit(Model(VOCAB), DataLoader(WikiText2(), batch_size=2))
    assert {"train_loss_step", "train_loss_epoch"} <= set(trainer.progress_bar_metrics)


# ----------------------------------------------- "Train Epoch-level Operations"
def test_train_epoch_level_operations(tmp_path: Any) -> None:
    stacked: list[torch.Size] = []

    class Model(L.LightningModule):
        def __init__(self, vocab_size):
            super().__init__()
            self.model = Transformer(vocab_size=vocab_size)
            self.training_step_outputs = []

        def training_step(self, batch, batch_idx):
            inputs, target = batch
            output = self.model(inputs, target)
            loss = torch.nn.functional.nll_loss(output, target.view(-1))
            preds = output.argmax(dim=-1)  # the document leaves `preds = ...` open
            self.training_step_outputs.append(preds)
            return loss

        def on_train_epoch_end(self):
            all_preds = torch.stack(self.training_step_outputs)
            stacked.append(all_preds.shape)  # "do something with all preds"
            self.training_step_outputs.clear()  # free memory

        def configure_optimizers(self):
            return torch.optim.SGD(self.model.parameters(), lr=0.1)

    quiet_trainer(tmp_path, max_epochs=2).fit(Model(VOCAB), DataLoader(WikiText2(), batch_size=2))
    assert stacked == [torch.Size([4, 2 * SEQ])] * 2


# --------------------------------------------------------------- "Validation Loop"
class ValidatingTransformer(LightningTransformer):
    def validation_step(self, batch, batch_idx):
        inputs, target = batch
        output = self.model(inputs, target)
        # the document computes `F.cross_entropy(y_hat, y)` on names it never defines
        loss = F.nll_loss(output, target.view(-1))
        self.log("val_loss", loss)

    def val_dataloader(self):
        return DataLoader(WikiText2(), batch_size=4)


def test_validation_loop_and_validate(tmp_path: Any) -> None:
    dataset = WikiText2()
    model = ValidatingTransformer(vocab_size=dataset.vocab_size)
    trainer = quiet_trainer(tmp_path, max_epochs=1)
    trainer.fit(model, DataLoader(dataset))
    assert "val_loss" in trainer.callback_metrics

    model = ValidatingTransformer(vocab_size=dataset.vocab_size)
    trainer = quiet_trainer(tmp_path)
    results = trainer.validate(model, verbose=False)
    assert list(results[0]) == ["val_loss"]


# ---------------------------------------------------- "Validation Epoch-level Metrics"
def test_validation_epoch_level_metrics(tmp_path: Any) -> None:
    ends: list[int] = []

    class Model(ValidatingTransformer):
        def __init__(self, vocab_size):
            super().__init__(vocab_size)
            self.validation_step_outputs = []

        def validation_step(self, batch, batch_idx):
            x, y = batch
            inputs, target = batch
            output = self.model(inputs, target)
            loss = torch.nn.functional.nll_loss(output, target.view(-1))
            pred = loss  # the document leaves `pred = ...` open
            self.validation_step_outputs.append(pred)
            return pred

        def on_validation_epoch_end(self):
            all_preds = torch.stack(self.validation_step_outputs)
            ends.append(len(all_preds))
            self.validation_step_outputs.clear()  # free memory

    quiet_trainer(tmp_path, max_epochs=1, num_sanity_val_steps=0).fit(
        Model(VOCAB), DataLoader(WikiText2())
    )
    assert ends == [2]


# --------------------------------------------------------------------- "Test Loop"
class TransformerWithTest(ValidatingTransformer):
    def test_step(self, batch, batch_idx):
        inputs, target = batch
        self.log("test_loss", F.nll_loss(self.model(inputs, target), target.view(-1)))

    def test_dataloader(self):
        return DataLoader(WikiText2(), batch_size=4)


def test_test_loop(tmp_path: Any) -> None:
    dataset = WikiText2()
    model = TransformerWithTest(vocab_size=dataset.vocab_size)
    dataloader = DataLoader(dataset)
    trainer = quiet_trainer(tmp_path, max_epochs=1)
    trainer.fit(model=model, train_dataloaders=dataloader)

    results = trainer.test(model, verbose=False)
    assert set(results[0]) == {"test_loss"}


# --------------------------------------------------------------- "Prediction Loop"
def test_prediction_loop(tmp_path: Any) -> None:
    class Model(LightningTransformer):
        def predict_step(self, batch):
            inputs, target = batch
            return self.model(inputs, target)

    model = Model(vocab_size=VOCAB)
    test_dataloader = DataLoader(WikiText2())
    trainer = quiet_trainer(tmp_path)
    predictions = trainer.predict(model, dataloaders=test_dataloader)
    assert len(predictions) == len(WikiText2())
    assert predictions[0].shape == (SEQ, VOCAB)


# ---------------------------------------------------------- "Inference in Research"
def test_inference_in_research() -> None:
    class Model(LightningTransformer):
        def forward(self, batch):
            inputs, target = batch
            return self.model(inputs, target)

    dataset = WikiText2()
    dataloader = DataLoader(dataset)
    model = Model(vocab_size=dataset.vocab_size)

    model.eval()
    with torch.no_grad():
        batch = dataloader.dataset[0]
        pred = model(batch)
    assert pred.shape == (SEQ, VOCAB)


def test_autoencoder_predict_with_a_datamodule(tmp_path: Any) -> None:
    class Autoencoder(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.decoder = torch.nn.Linear(4, 4)

        def forward(self, x):
            return self.decoder(x)

        def predict_step(self, batch, batch_idx, dataloader_idx=0):
            # this calls forward
            return self(batch)

    data_module = L.LightningDataModule.from_datasets(
        predict_dataset=torch.randn(6, 4), batch_size=3
    )
    model = Autoencoder()
    trainer = Trainer(accelerator="cpu", devices=1, default_root_dir=tmp_path, **QUIET)
    predictions = trainer.predict(model, data_module)
    assert [p.shape for p in predictions] == [torch.Size([3, 4])] * 2


# -------------------------------------------------------- "Inference in Production"
def accuracy(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Stands in for ``torchmetrics.functional.accuracy``."""
    return (y_hat.argmax(dim=-1) == y).float().mean()


class ClassificationTask(L.LightningModule):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def training_step(self, batch, batch_idx):
        x, y = batch
        y_hat = self.model(x)
        loss = F.cross_entropy(y_hat, y)
        return loss

    def validation_step(self, batch, batch_idx):
        loss, acc = self._shared_eval_step(batch, batch_idx)
        metrics = {"val_acc": acc, "val_loss": loss}
        self.log_dict(metrics)
        return metrics

    def test_step(self, batch, batch_idx):
        loss, acc = self._shared_eval_step(batch, batch_idx)
        metrics = {"test_acc": acc, "test_loss": loss}
        self.log_dict(metrics)
        return metrics

    def _shared_eval_step(self, batch, batch_idx):
        x, y = batch
        y_hat = self.model(x)
        loss = F.cross_entropy(y_hat, y)
        acc = accuracy(y_hat, y)
        return loss, acc

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        x, y = batch
        y_hat = self.model(x)
        return y_hat

    def configure_optimizers(self):
        return torch.optim.Adam(self.model.parameters(), lr=0.02)


def classification_data(n: int = 32) -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 5, generator=generator)
    y = (x[:, 0] > 0).long()  # learnable: the sign of the first feature
    return DataLoader(list(zip(x, y)), batch_size=8)


def test_inference_in_production_tasks(tmp_path: Any) -> None:
    train_dataloader, val_dataloader = classification_data(), classification_data()
    resnet50 = vgg16 = BidirectionalRNN = lambda: torch.nn.Sequential(  # noqa: N806, E731
        torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2)
    )
    for model in [resnet50(), vgg16(), BidirectionalRNN()]:
        task = ClassificationTask(model)

        trainer = Trainer(
            accelerator="cpu", devices=1, max_epochs=15, default_root_dir=tmp_path, **QUIET
        )
        trainer.fit(task, train_dataloader, val_dataloader)
        assert float(trainer.callback_metrics["val_acc"]) > 0.8
        results = trainer.test(task, dataloaders=val_dataloader, verbose=False)
        assert set(results[0]) == {"test_acc", "test_loss"}
        predictions = trainer.predict(task, dataloaders=val_dataloader)
        assert predictions[0].shape == (8, 2)


# ------------------------------------------------------------------ "Properties"
def test_property_examples(tmp_path: Any) -> None:
    seen: dict[str, Any] = {}

    class Model(ClassificationTask):
        def training_step(self, batch, batch_idx):
            if self.current_epoch == 0:
                seen["epoch0"] = True
            z = torch.rand(2, 3, device=self.device)
            seen["device"] = z.device
            if self.global_rank == 0:
                seen["global_rank"] = self.global_rank
            if self.local_rank == 0:
                seen["local_rank"] = self.local_rank
            seen["global_step"] = self.global_step
            seen["experiment"] = type(self.logger.experiment).__name__  # the particular logger
            loggers = self.loggers
            for logger in loggers:
                logger.log_metrics({"foo": 1.0})
            max_steps = self.trainer.max_steps
            seen["max_steps"] = max_steps
            return super().training_step(batch, batch_idx)

    trainer = Trainer(
        max_epochs=1,
        default_root_dir=tmp_path,
        logger=L.loggers.CSVLogger(tmp_path),
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(Model(torch.nn.Linear(5, 2)), classification_data())
    assert seen == {
        "epoch0": True,
        "device": torch.device("cpu"),
        "global_rank": 0,
        "local_rank": 0,
        "global_step": 3,
        "experiment": "_MetricsWriter",
        "max_steps": -1,
    }


def test_precision_property_example(tmp_path: Any) -> None:
    """The document's ``if self.precision == "16-true": ...`` runs: the reference keeps the
    documented property (Lightning 2.0 removed it, #16203; clause PRECVAL-007)."""

    seen = []

    class HalfAware(ClassificationTask):
        def training_step(self, batch, batch_idx):
            if self.precision == "16-true":
                seen.append("16-true branch")
            seen.append(self.precision)
            return super().training_step(batch, batch_idx)

    model = HalfAware(torch.nn.Linear(5, 2))
    assert model.precision == "32-true"  # the default, before any trainer
    trainer = quiet_trainer(tmp_path, max_epochs=1, limit_train_batches=1, precision="16-true")
    trainer.fit(model, classification_data())
    assert seen == ["16-true branch", "16-true"]


def test_prepare_data_per_node_example(tmp_path: Any) -> None:
    class LitModel(ClassificationTask):
        def __init__(self):
            super().__init__(torch.nn.Linear(5, 2))
            self.prepare_data_per_node = True
            self.prepared = 0

        def prepare_data(self):
            self.prepared += 1

    model = LitModel()
    quiet_trainer(tmp_path, max_epochs=1).fit(model, classification_data())
    assert model.prepared == 1


def test_automatic_optimization_examples(tmp_path: Any) -> None:
    class OneOptimizer(ClassificationTask):
        def __init__(self):
            super().__init__(torch.nn.Linear(5, 2))
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            opt = self.optimizers(use_pl_optimizer=True)

            loss = super().training_step(batch, batch_idx)
            opt.zero_grad()
            self.manual_backward(loss)
            opt.step()

    class TwoOptimizers(ClassificationTask):
        def __init__(self):
            super().__init__(torch.nn.Linear(5, 2))
            self.automatic_optimization = False
            self.critic = torch.nn.Linear(5, 1)

        def training_step(self, batch, batch_idx):
            # access your optimizers with use_pl_optimizer=False. Default is True
            opt_a, opt_b = self.optimizers(use_pl_optimizer=True)

            gen_loss = super().training_step(batch, batch_idx)
            opt_a.zero_grad()
            self.manual_backward(gen_loss)
            opt_a.step()

            disc_loss = self.critic(batch[0]).pow(2).mean()
            opt_b.zero_grad()
            self.manual_backward(disc_loss)
            opt_b.step()

        def configure_optimizers(self):
            return [
                torch.optim.SGD(self.model.parameters(), lr=0.1),
                torch.optim.SGD(self.critic.parameters(), lr=0.1),
            ]

    for model, steps_per_batch in ((OneOptimizer(), 1), (TwoOptimizers(), 2)):
        trainer = quiet_trainer(tmp_path, max_epochs=1)
        trainer.fit(model, classification_data())
        assert trainer.global_step == 4 * steps_per_batch


def test_example_input_array(tmp_path: Any) -> None:
    generated: list[torch.Size] = []

    class Model(ClassificationTask):
        def __init__(self):
            super().__init__(torch.nn.Linear(5, 2))
            self.example_input_array = torch.randn(3, 5)
            self.generator = torch.nn.Linear(5, 5)

        def on_train_epoch_end(self):
            # generate some images using the example_input_array
            gen_images = self.generator(self.example_input_array)
            generated.append(gen_images.shape)

    quiet_trainer(tmp_path, max_epochs=2).fit(Model(), classification_data())
    assert generated == [torch.Size([3, 5])] * 2
