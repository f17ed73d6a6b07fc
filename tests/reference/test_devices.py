"""Placement: the model and batches reach the strategy's device; the model goes back to the CPU.

On a CPU-only machine a real transfer cannot be observed, so the accelerator path is checked
through its seams: a strategy reporting a non-CPU root device records what teardown does and
when, and the XLA strategy's tied-weights repair is checked on CPU modules. When torch_xla is
configured (``PJRT_DEVICE`` set, e.g. in the ``xla`` tox env), the last tests fit on XLA.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import reference as L
from reference.accelerators import XLAAccelerator
from reference.strategies import SingleDeviceStrategy
from reference.strategies.single_xla import _retie, _tied_parameter_names


class Model(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(3, 1)
        self.events: list[str] = []
        self.devices: dict[str, Any] = {}

    def setup(self, stage: str) -> None:
        self.devices["setup"] = self.device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        self.devices["batch"] = batch[0].device
        self.devices["step"] = self.device
        return self.layer(batch[0]).sum()

    def configure_optimizers(self) -> Any:
        self.devices["configure_optimizers"] = self.layer.weight.device
        return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)

    def on_fit_end(self) -> None:
        self.events.append("on_fit_end")

    def teardown(self, stage: str) -> None:
        self.events.append(f"teardown({stage})")


def _data() -> DataLoader:
    return DataLoader(TensorDataset(torch.ones(4, 3)), batch_size=2)


class RecordingStrategy(SingleDeviceStrategy):
    """At teardown, reports ``reported`` as its root device (a GPU, say) and records what is moved
    back, without moving anything (the tensors stay on the CPU they really are on)."""

    def __init__(self, reported: str) -> None:
        super().__init__("cpu")
        self.reported = torch.device(reported)
        self.log: list[str] = []

    @property
    def root_device(self) -> torch.device:
        return self.reported if "teardown" in self.log else torch.device("cpu")

    def model_to_device(self) -> None:
        self.log.append("model_to_device")

    def _optimizers_to_device(self, device: torch.device | None = None) -> None:
        self.log.append(f"optimizers_to({device or 'root'})")

    def teardown(self) -> None:
        self.log.append("teardown")
        self.lightning_module.events.append("strategy.teardown")
        module = self.lightning_module
        moved: list[str] = []
        module.cpu = lambda: moved.append("cpu") or module  # type: ignore[method-assign]
        super().teardown()
        del module.cpu
        self.log.extend(moved)


def test_teardown_hands_model_and_optimizer_state_back_before_on_fit_end(
    make_trainer: Any,
) -> None:
    model = Model()
    strategy = RecordingStrategy("cuda:0")
    make_trainer(accelerator="cpu", strategy=strategy, max_steps=1).fit(model, _data())
    assert model.events == ["strategy.teardown", "on_fit_end", "teardown(fit)"]
    # after setup: model moved, then optimizer state moved to the root device; at the end both
    # come back to the CPU
    assert strategy.log == [
        "model_to_device",
        "optimizers_to(root)",
        "teardown",
        "optimizers_to(cpu)",
        "cpu",
    ]


def test_cpu_teardown_moves_nothing(make_trainer: Any) -> None:
    model = Model()
    strategy = SingleDeviceStrategy("cpu")
    calls: list[Any] = []
    strategy._optimizers_to_device = lambda device=None: calls.append(device)  # type: ignore
    make_trainer(accelerator="cpu", strategy=strategy, max_steps=1).fit(model, _data())
    assert calls == [None]  # only the move after configure_optimizers


def test_self_device_is_final_in_setup_and_batches_follow(make_trainer: Any) -> None:
    model = Model()
    make_trainer(accelerator="cpu", max_steps=1).fit(model, _data())
    cpu = torch.device("cpu")
    assert model.devices == {"setup": cpu, "configure_optimizers": cpu, "batch": cpu, "step": cpu}


def test_optimizer_state_moves_with_the_requested_device() -> None:
    strategy = SingleDeviceStrategy("cpu")
    param = torch.nn.Parameter(torch.ones(2))
    optimizer = torch.optim.Adam([param])
    param.grad = torch.ones(2)
    optimizer.step()
    strategy.optimizers = [optimizer]
    strategy._optimizers_to_device(torch.device("meta"))
    state = optimizer.state[param]
    assert state["exp_avg"].device.type == "meta" and state["step"].device.type == "cpu"


def test_tied_weights_are_found_and_retied() -> None:
    class Tied(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = torch.nn.Embedding(5, 3)
            self.decoder = torch.nn.Linear(3, 5, bias=False)
            self.decoder.weight = self.encoder.weight

    model = Tied()
    groups = _tied_parameter_names(model)
    assert groups == [["encoder.weight", "decoder.weight"]]
    model.decoder.weight = torch.nn.Parameter(model.decoder.weight.detach().clone())  # untied
    assert model.decoder.weight is not model.encoder.weight
    _retie(model, groups)
    assert model.decoder.weight is model.encoder.weight


def test_trainer_root_device_and_ids(make_trainer: Any) -> None:
    trainer = make_trainer(accelerator="cpu")
    assert trainer.root_device == torch.device("cpu") and trainer.device_ids == [0]


# ------------------------------------------------------------------ XLA, where configured
needs_xla = pytest.mark.skipif(
    not XLAAccelerator.is_available(), reason="torch_xla with PJRT_DEVICE set is not available"
)


@needs_xla
@pytest.mark.parametrize("precision", ["32-true", "bf16-true"])
def test_fit_on_xla(make_trainer: Any, precision: str) -> None:
    model = Model()
    before = model.layer.weight.detach().clone()
    trainer = make_trainer(accelerator="tpu", devices=1, precision=precision, max_steps=2)
    trainer.fit(model, _data())
    assert model.devices["batch"].type == "xla" and model.devices["step"].type == "xla"
    assert model.devices["configure_optimizers"].type == "xla"
    assert model.layer.weight.device.type == "cpu"  # handed back at teardown
    assert not torch.equal(before, model.layer.weight.detach())
    predictions = trainer.predict(model, DataLoader(torch.ones(2, 3)))
    assert predictions[0].device.type == "cpu"


@needs_xla
def test_tied_weights_survive_the_move_to_xla(make_trainer: Any) -> None:
    class TiedModel(Model):
        def __init__(self) -> None:
            super().__init__()
            self.other = torch.nn.Linear(3, 1)
            self.other.weight = self.layer.weight

    model = TiedModel()
    make_trainer(accelerator="tpu", max_steps=1).fit(model, _data())
    assert model.other.weight is model.layer.weight
