"""LightningModule behaviour outside the loops: properties, defaults, batch transfer."""

from __future__ import annotations

import dataclasses
from collections import namedtuple
from typing import Any

import pytest
import torch
from reference_models import BoringModel

import reference as L
from reference.utilities.apply_func import move_data_to_device


def test_unattached_module() -> None:
    model = BoringModel()
    with pytest.raises(RuntimeError, match="BoringModel is not attached to a `Trainer`"):
        _ = model.trainer
    assert (model.current_epoch, model.global_step, model.global_rank, model.local_rank) == (
        0,
        0,
        0,
        0,
    )
    assert model.logger is None and model.loggers == []
    assert model.device == torch.device("cpu") and model.dtype == torch.float32
    assert model.automatic_optimization and model.example_input_array is None
    assert model.precision == "32-true"  # documented (seed 002); Lightning 2.0 removed it


def test_dtype_follows_conversions() -> None:
    model = BoringModel()
    model.double()
    assert model.dtype == torch.float64 and model.layer.weight.dtype == torch.float64
    model.to(torch.float32)
    assert model.dtype == torch.float32
    with pytest.raises(RuntimeError, match="Cannot set the dtype explicitly"):
        model.dtype = torch.float16


def test_attached_properties(make_trainer: Any) -> None:
    seen: dict[str, Any] = {}

    class Spy(BoringModel):
        def on_train_epoch_end(self) -> None:
            seen.update(
                epoch=self.current_epoch,
                step=self.global_step,
                trainer=self.trainer,
                training=self.training,
            )

    trainer = make_trainer(max_epochs=2, limit_val_batches=0)
    model = Spy()
    trainer.fit(model)
    assert seen == {"epoch": 1, "step": 8, "trainer": trainer, "training": True}
    assert (model.current_epoch, model.global_step) == (2, 8)


def test_freeze_unfreeze() -> None:
    model = BoringModel()
    model.freeze()
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    model.unfreeze()
    assert model.training and all(p.requires_grad for p in model.parameters())


def test_predict_step_calls_forward(make_trainer: Any) -> None:
    model = BoringModel()
    predictions = make_trainer().predict(model)
    batches = list(model.predict_dataloader())
    assert len(predictions) == 4
    for prediction, batch in zip(predictions, batches):
        torch.testing.assert_close(prediction, model(batch))
        assert not prediction.requires_grad


def test_predict_step_returning_none_warns_once(make_trainer: Any) -> None:
    class NoPrediction(BoringModel):
        def predict_step(self, batch: Any, batch_idx: int) -> None:
            return None

    trainer = make_trainer()
    with pytest.warns(UserWarning, match="predict returned None") as record:
        assert trainer.predict(NoPrediction()) == [None] * 4
    assert len([w for w in record if "predict returned None" in str(w.message)]) == 1


def test_all_gather_is_identity_on_one_device(make_trainer: Any) -> None:
    model = BoringModel()
    trainer = make_trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0)
    trainer.fit(model)
    tensor = torch.arange(3.0)
    assert torch.equal(model.all_gather(tensor), tensor)
    gathered = model.all_gather({"a": tensor, "b": 2})
    assert torch.equal(gathered["a"], tensor) and gathered["b"].item() == 2


Pair = namedtuple("Pair", ["x", "y"])


@dataclasses.dataclass
class Sample:
    image: torch.Tensor
    label: int
    meta: dict


class MovesItself:
    def __init__(self) -> None:
        self.moved_to: Any = None

    def to(self, device: Any) -> MovesItself:
        self.moved_to = device
        return self


def test_move_data_to_device_walks_every_collection() -> None:
    custom = MovesItself()
    batch = {
        "pair": Pair(torch.ones(1), [torch.zeros(2), "text"]),
        "sample": Sample(torch.ones(2), 3, {"k": torch.ones(1)}),
        "custom": custom,
        "tuple": (torch.ones(1), 4),
    }
    moved = move_data_to_device(batch, torch.device("cpu"))
    assert isinstance(moved["pair"], Pair) and moved["pair"].y[1] == "text"
    assert isinstance(moved["sample"], Sample) and moved["sample"].label == 3
    assert torch.equal(moved["sample"].meta["k"], torch.ones(1))
    assert custom.moved_to == torch.device("cpu")
    assert isinstance(moved["tuple"], tuple) and moved["tuple"][1] == 4


def test_in_place_mover_is_kept() -> None:
    class InPlace:
        def to(self, device: Any) -> None:
            self.device = device

    obj = InPlace()
    assert move_data_to_device([obj], "cpu")[0] is obj and obj.device == torch.device("cpu")


def test_training_mode_is_restored_per_submodule(make_trainer: Any) -> None:
    seen: list[tuple] = []

    class Frozen(BoringModel):
        def __init__(self) -> None:
            super().__init__()
            self.frozen = torch.nn.BatchNorm1d(2)
            self.frozen.eval()

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            seen.append(
                ("train", self.layer.training, self.frozen.training, torch.is_grad_enabled())
            )
            return super().training_step(batch, batch_idx)

        def validation_step(self, batch: Any, batch_idx: int) -> Any:
            seen.append(
                (
                    "val",
                    self.layer.training,
                    self.frozen.training,
                    torch.is_grad_enabled(),
                    torch.is_inference_mode_enabled(),
                )
            )

    model = Frozen()
    trainer = make_trainer(
        max_epochs=1, limit_train_batches=1, limit_val_batches=1, num_sanity_val_steps=0
    )
    with pytest.warns(UserWarning, match="Found 1 module\\(s\\) in eval mode"):
        trainer.fit(model)
    assert seen == [("train", True, False, True), ("val", False, False, False, False)]
    assert model.layer.training and not model.frozen.training
    seen.clear()
    trainer.validate(model, verbose=False)
    assert seen == [("val", False, False, False, True)]  # inference_mode outside fit


def test_inference_mode_false_uses_no_grad(make_trainer: Any) -> None:
    modes: list[bool] = []

    class Spy(BoringModel):
        def test_step(self, batch: Any, batch_idx: int) -> None:
            modes.append(torch.is_inference_mode_enabled())

    make_trainer(inference_mode=False).test(Spy(), verbose=False)
    assert modes and not any(modes)


def test_gradients_are_zeroed_when_a_stage_starts(make_trainer: Any) -> None:
    model = BoringModel()
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    make_trainer().validate(model, verbose=False)
    assert all(p.grad is None for p in model.parameters())


def test_print_without_bar(make_trainer: Any, capsys: Any) -> None:
    class Printing(BoringModel):
        def on_fit_start(self) -> None:
            self.print("starting", 1)

    make_trainer(max_epochs=1, limit_train_batches=1).fit(Printing())
    assert "starting 1" in capsys.readouterr().out


def test_to_torchscript(tmp_path: Any) -> None:
    model = BoringModel()
    scripted = model.to_torchscript(file_path=tmp_path / "model.pt")
    x = torch.randn(2, 32)
    torch.testing.assert_close(scripted(x), model(x))
    assert (tmp_path / "model.pt").exists()


def test_to_torchscript_trace_works_without_a_trainer() -> None:
    # tracing reads every attribute of the module, `trainer` included, as scripting does
    class Traced(BoringModel):
        def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
            seen.append(tuple(batch.shape))  # the example input passes the batch hooks
            return batch

    seen: list[tuple] = []
    model = Traced()
    model.example_input_array = torch.randn(2, 32)
    traced = model.to_torchscript(method="trace")
    x = torch.randn(3, 32)
    torch.testing.assert_close(traced(x), model(x))
    assert seen == [(2, 32)]


def test_seed_everything_is_reproducible(monkeypatch: Any) -> None:
    assert L.seed_everything(42) == 42
    first = torch.rand(3)
    L.seed_everything(42)
    assert torch.equal(first, torch.rand(3))
    monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)
    with pytest.warns(UserWarning, match="No seed found, seed set to 0"):
        assert L.seed_everything() == 0
    monkeypatch.setenv("PL_GLOBAL_SEED", "7")
    assert L.seed_everything() == 7
    import os

    assert os.environ["PL_SEED_WORKERS"] == "0"


def test_isolate_rng_puts_every_generator_back() -> None:
    import random

    from reference.utilities.seed import isolate_rng

    numpy = pytest.importorskip("numpy")
    L.seed_everything(11, verbose=False)
    expected = (torch.rand(2), random.random(), numpy.random.rand())
    L.seed_everything(11, verbose=False)
    with isolate_rng():
        torch.rand(5), random.random(), numpy.random.rand(4)  # drawn inside: forgotten after
    again = (torch.rand(2), random.random(), numpy.random.rand())
    assert torch.equal(expected[0], again[0]) and expected[1:] == again[1:]
