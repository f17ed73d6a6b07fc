"""Bad input gets a clear error (or Lightning's warning) naming the problem."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from reference_models import BoringModel, loader
from torch.utils.data import DataLoader

import reference as L
from reference.utilities.exceptions import MisconfigurationException


@pytest.mark.parametrize(
    "flags, error, message",
    [
        (
            {"max_steps": -5},
            MisconfigurationException,
            "max_steps` must be a non-negative integer or -1",
        ),
        ({"max_epochs": -5}, MisconfigurationException, "max_epochs` must be a non-negative"),
        ({"max_epochs": 1.5}, MisconfigurationException, "max_epochs"),
        ({"min_epochs": -1}, MisconfigurationException, "min_epochs"),
        (
            {"gradient_clip_algorithm": "foo"},
            MisconfigurationException,
            "gradient_clip_algorithm` foo is invalid",
        ),
        ({"gradient_clip_val": "x"}, TypeError, "gradient_clip_val` should be an int or a float"),
        (
            {"gradient_clip_val": -1.0},
            MisconfigurationException,
            "gradient_clip_val` should be >= 0",
        ),
        (
            {"check_val_every_n_epoch": 1.5},
            MisconfigurationException,
            "should be an integer, found 1.5",
        ),
        (
            {"check_val_every_n_epoch": 0},
            MisconfigurationException,
            "check_val_every_n_epoch` should be >= 1",
        ),
        (
            {"check_val_every_n_epoch": None, "val_check_interval": 0.5},
            MisconfigurationException,
            "should be an integer when `check_val_every_n_epoch=None`",
        ),
        (
            {"val_check_interval": 1.5},
            MisconfigurationException,
            "invalid value 1.5 for val_check_interval",
        ),
        ({"val_check_interval": 0}, MisconfigurationException, "val_check_interval=0"),
        (
            {"limit_train_batches": -1},
            MisconfigurationException,
            "invalid value -1 for limit_train_batches",
        ),
        ({"limit_val_batches": "all"}, MisconfigurationException, "for limit_val_batches"),
        (
            {"accumulate_grad_batches": 0},
            MisconfigurationException,
            "accumulate_grad_batches` should be an int >= 1",
        ),
        ({"log_every_n_steps": -1}, MisconfigurationException, "log_every_n_steps"),
        ({"num_sanity_val_steps": -2}, MisconfigurationException, "num_sanity_val_steps"),
        (
            {"fast_dev_run": -1},
            MisconfigurationException,
            "fast_dev_run=-1 is not a valid configuration",
        ),
        (
            {"reload_dataloaders_every_n_epochs": -1},
            MisconfigurationException,
            "reload_dataloaders_every_n_epochs",
        ),
        ({"enable_progress_bar": "yes"}, MisconfigurationException, "enable_progress_bar"),
        ({"deterministic": "maybe"}, MisconfigurationException, "deterministic"),
        ({"callbacks": 5}, TypeError, "callbacks"),
        ({"callbacks": [object()]}, TypeError, "may only contain `Callback` instances"),
        ({"logger": 5}, TypeError, "logger"),
    ],
)
def test_bad_flags(flags: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        L.Trainer(**flags)


@pytest.mark.parametrize(
    "flags, error, message",
    [
        (
            {"accelerator": "gpu"},
            MisconfigurationException,
            "no supported GPU backend.*Available accelerators here: 'cpu'",
        ),
        ({"accelerator": "foo"}, ValueError, "invalid accelerator name.*'cpu'"),
        ({"devices": 2}, MisconfigurationException, "single device.*devices=1"),
        ({"devices": 0}, MisconfigurationException, "devices=0"),
        ({"devices": [0]}, TypeError, "devices"),
        ({"precision": "transformer-engine"}, ValueError, "not supported.*'32-true'"),
        ({"precision": "foo"}, ValueError, "Precision 'foo' is invalid.*'32-true'"),
        ({"strategy": "ddp"}, MisconfigurationException, "not supported.*'single_device'"),
        ({"strategy": "foo"}, ValueError, "invalid strategy name"),
        ({"num_nodes": 2}, MisconfigurationException, "num_nodes=2"),
        ({"plugins": ["x"]}, MisconfigurationException, "plugins"),
        ({"max_time": "00:01:00:00"}, NotImplementedError, "max_time"),
        ({"overfit_batches": 2}, NotImplementedError, "overfit_batches"),
    ],
)
def test_unsupported_hardware_and_features_list_what_is_supported(
    flags: dict, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        L.Trainer(**flags)


@pytest.mark.parametrize(
    "flags",
    [
        {},
        {"accelerator": "cpu", "devices": "1", "precision": 32},
        {"precision": "32-true", "strategy": "single_device"},
        {"devices": "auto", "precision": "32"},
    ],
)
def test_supported_hardware_flags(flags: dict) -> None:
    trainer = L.Trainer(logger=False, **flags)
    assert trainer.precision == "32-true"
    assert trainer.strategy.root_device == torch.device("cpu")
    assert type(trainer.accelerator).__name__ == "CPUAccelerator"


class Returns(BoringModel):
    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        return self.value


@pytest.mark.parametrize("value", ["loss", 3.0, [torch.tensor(1.0)]])
def test_training_step_must_return_tensor_dict_or_none(make_trainer: Any, value: Any) -> None:
    with pytest.raises(
        MisconfigurationException,
        match=f"must return a Tensor, a dict, or None.*{type(value).__name__}",
    ):
        make_trainer(max_epochs=1).fit(Returns(value))


def test_training_step_dict_needs_loss(make_trainer: Any) -> None:
    with pytest.raises(MisconfigurationException, match="'loss' key needs to be present.*'acc'"):
        make_trainer(max_epochs=1).fit(Returns({"acc": torch.tensor(1.0)}))


def test_optimizer_step_that_never_runs_the_closure_is_an_error(make_trainer: Any) -> None:
    # without the closure, training_step and backward never run: training would do nothing
    class NoClosure(BoringModel):
        def optimizer_step(self, epoch: int, batch_idx: int, optimizer: Any, closure: Any) -> None:
            optimizer.step()

    trainer = make_trainer(max_epochs=1)
    with pytest.raises(MisconfigurationException, match="closure hasn't been executed"):
        trainer.fit(NoClosure())
    assert trainer.global_step == 0


class Manual(BoringModel):
    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False

    def training_step(self, batch: Any, batch_idx: int) -> None:
        opt = self.optimizers()
        opt.zero_grad()
        self.manual_backward(self.loss(batch))
        opt.step()


@pytest.mark.parametrize(
    "flags, message",
    [({"accumulate_grad_batches": 2}, "accumulation"), ({"gradient_clip_val": 1.0}, "clipping")],
)
def test_manual_optimization_refuses_automatic_features(
    make_trainer: Any, flags: dict, message: str
) -> None:
    with pytest.raises(
        MisconfigurationException, match=f"Automatic gradient {message} is not supported"
    ):
        make_trainer(max_epochs=1, **flags).fit(Manual())


def test_manual_backward_needs_manual_optimization(make_trainer: Any) -> None:
    class Wrong(BoringModel):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            loss = self.loss(batch)
            self.manual_backward(loss)
            return loss

    with pytest.raises(MisconfigurationException, match="disable automatic optimization"):
        make_trainer(max_epochs=1).fit(Wrong())


def test_empty_train_loader_warns_and_trains_nothing(make_trainer: Any) -> None:
    # Lightning warns and skips training; the reference does the same, naming the loader
    trainer = make_trainer(max_epochs=2, limit_val_batches=0)
    with pytest.warns(
        UserWarning, match="length of `DataLoader` across ranks is zero.*no train batches"
    ):
        trainer.fit(BoringModel(), train_dataloaders=DataLoader([]))
    assert trainer.global_step == 0 and trainer.num_training_batches == 0


def test_validation_loader_without_validation_step_warns(make_trainer: Any) -> None:
    class NoVal(BoringModel):
        validation_step = L.LightningModule.validation_step

    with pytest.warns(UserWarning, match="no `validation_step`. Skipping val loop"):
        make_trainer(max_epochs=1).fit(NoVal(), val_dataloaders=loader())


def test_validation_step_without_loader_warns(make_trainer: Any) -> None:
    class NoLoader(BoringModel):
        val_dataloader = L.LightningModule.val_dataloader

    with pytest.warns(UserWarning, match="no `val_dataloader`. Skipping val loop"):
        make_trainer(max_epochs=1).fit(NoLoader())


@pytest.mark.parametrize("hook", ["training_epoch_end", "validation_epoch_end"])
def test_removed_1x_hooks_raise(make_trainer: Any, hook: str) -> None:
    model = BoringModel()
    setattr(type(model), hook, lambda self, outputs: None)
    try:
        with pytest.raises(NotImplementedError, match=f"`{hook}` has been removed in v2.0.0"):
            make_trainer(max_epochs=1).fit(model)
    finally:
        delattr(type(model), hook)


def test_removed_test_epoch_end_raises_in_test(make_trainer: Any) -> None:
    class Old(BoringModel):
        def test_epoch_end(self, outputs: Any) -> None:
            pass

    with pytest.raises(NotImplementedError, match="`test_epoch_end` has been removed"):
        make_trainer().test(Old())


def test_missing_steps(make_trainer: Any) -> None:
    with pytest.raises(MisconfigurationException, match="No `training_step\\(\\)` method defined"):
        make_trainer(max_epochs=1).fit(L.LightningModule())
    with pytest.raises(MisconfigurationException, match="No `test_step\\(\\)` method defined"):
        make_trainer().test(L.LightningModule(), dataloaders=loader())
    with pytest.raises(MisconfigurationException, match="requires `forward` method"):
        make_trainer().predict(L.LightningModule(), dataloaders=loader())


def test_train_dataloader_missing(make_trainer: Any) -> None:
    class NoData(BoringModel):
        train_dataloader = L.LightningModule.train_dataloader

    with pytest.raises(MisconfigurationException, match="`train_dataloader` must be implemented"):
        make_trainer(max_epochs=1).fit(NoData())


def test_not_iterable_dataloader(make_trainer: Any) -> None:
    with pytest.raises(
        TypeError, match=r"invalid dataloader was passed to `Trainer.fit\(train_dataloaders"
    ):
        make_trainer(max_epochs=1).fit(BoringModel(), train_dataloaders=object())


def test_fit_needs_a_lightning_module(make_trainer: Any) -> None:
    with pytest.raises(TypeError, match="requires a `LightningModule`, got: Linear"):
        make_trainer().fit(torch.nn.Linear(1, 1))
    with pytest.raises(TypeError, match="hasn't been passed in a previous run"):
        make_trainer().validate()


def test_missing_ckpt_path_is_named(make_trainer: Any) -> None:
    with pytest.raises(FileNotFoundError, match="Checkpoint file not found: .*nowhere.ckpt"):
        make_trainer(max_epochs=1).fit(BoringModel(), ckpt_path="nowhere.ckpt")


def test_datamodule_and_dataloaders_together(make_trainer: Any) -> None:
    with pytest.raises(MisconfigurationException, match="cannot pass"):
        make_trainer(max_epochs=1).fit(BoringModel(), loader(), datamodule=L.LightningDataModule())


def test_dataloader_idx_required_with_one_loader(make_trainer: Any) -> None:
    class Strict(BoringModel):
        def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int) -> None:
            pass

    with pytest.raises(
        RuntimeError, match="only a single `val_dataloader`, but have included `dataloader_idx`"
    ):
        make_trainer().validate(Strict())


def test_dataloader_idx_missing_with_several_loaders(make_trainer: Any) -> None:
    with pytest.raises(RuntimeError, match="multiple `val_dataloader`, but no `dataloader_idx`"):
        make_trainer().validate(BoringModel(), dataloaders=[loader(), loader()])


def test_exception_reaches_on_exception_and_propagates(make_trainer: Any) -> None:
    seen: list[BaseException] = []

    class Catch(L.Callback):
        def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
            seen.append(exception)

    class Boom(BoringModel):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            raise ValueError("boom")

    trainer = make_trainer(max_epochs=1, callbacks=[Catch()])
    with pytest.raises(ValueError, match="boom"):
        trainer.fit(Boom())
    assert [str(e) for e in seen] == ["boom"]
    assert trainer.interrupted and trainer.state.stage is None
