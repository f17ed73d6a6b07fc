"""The reference's accelerator and strategy selection: names, availability, devices, topology.

Hardware this machine lacks is simulated by patching the accelerator classes' availability and
device counts: what is tested is the selection logic (which accelerator, which device, which
error), not the hardware.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

import reference as L
from reference.accelerators import (
    CPUAccelerator,
    CUDAAccelerator,
    MPSAccelerator,
    XLAAccelerator,
    available_accelerators,
)
from reference.accelerators.device_parser import parse_device_indices
from reference.precision import MixedPrecision, XLAPrecision
from reference.strategies import SingleDeviceStrategy, SingleDeviceXLAStrategy
from reference.utilities.exceptions import MisconfigurationException


def _pretend(monkeypatch: pytest.MonkeyPatch, cls: type, count: int) -> None:
    """Make ``cls`` look available with ``count`` devices."""
    monkeypatch.setattr(cls, "is_available", staticmethod(lambda: count > 0))
    monkeypatch.setattr(cls, "auto_device_count", staticmethod(lambda: count))


def _real_cpu_only() -> bool:
    return available_accelerators() == ["cpu"]


# --------------------------------------------------------------------------------- names
def test_auto_is_cpu_on_a_cpu_only_machine(make_trainer: Any) -> None:
    if not _real_cpu_only():
        pytest.skip(f"this machine has {available_accelerators()}")
    trainer = make_trainer()
    assert isinstance(trainer.accelerator, CPUAccelerator)
    assert trainer.strategy.root_device == torch.device("cpu")


@pytest.mark.parametrize(
    ("present", "flag", "expected"),
    [
        ({"cuda": 1}, "auto", CUDAAccelerator),
        ({"cuda": 1, "mps": 1}, "auto", MPSAccelerator),
        ({"cuda": 1, "mps": 1, "tpu": 1}, "auto", XLAAccelerator),
        ({"cuda": 1, "mps": 1}, "gpu", MPSAccelerator),
        ({"cuda": 1}, "gpu", CUDAAccelerator),
        ({"cuda": 1}, "CUDA", CUDAAccelerator),  # names are case-insensitive, as in Lightning
    ],
)
def test_auto_and_gpu_follow_lightnings_priority(
    monkeypatch: pytest.MonkeyPatch, present: dict[str, int], flag: str, expected: type
) -> None:
    from reference.trainer.connector import resolve_accelerator

    classes = {"cuda": CUDAAccelerator, "mps": MPSAccelerator, "tpu": XLAAccelerator}
    for name, cls in classes.items():
        _pretend(monkeypatch, cls, present.get(name, 0))
    assert type(resolve_accelerator(flag)) is expected


def test_an_accelerator_instance_is_used_as_given(make_trainer: Any) -> None:
    accelerator = CPUAccelerator()
    trainer = make_trainer(accelerator=accelerator)
    assert trainer.accelerator is accelerator is trainer.strategy.accelerator


@pytest.mark.parametrize("name", ["foo", "hpu", "cpux"])
def test_unknown_name_lists_every_accelerator(make_trainer: Any, name: str) -> None:
    with pytest.raises(ValueError, match="invalid accelerator name") as raised:
        make_trainer(accelerator=name)
    for expected in (name, "auto", "cpu", "cuda", "gpu", "mps", "tpu"):
        assert repr(expected) in str(raised.value)


@pytest.mark.parametrize("name", ["cuda", "mps", "tpu", "gpu"])
def test_unavailable_hardware_names_it_and_lists_what_is_available(
    make_trainer: Any, name: str
) -> None:
    if not _real_cpu_only():
        pytest.skip(f"this machine has {available_accelerators()}")
    with pytest.raises(MisconfigurationException) as raised:
        make_trainer(accelerator=name)
    message = str(raised.value)
    assert f"accelerator={name!r}" in message and "Available accelerators here: 'cpu'" in message


def test_a_bad_accelerator_type_is_a_type_error(make_trainer: Any) -> None:
    with pytest.raises(TypeError, match="accelerator"):
        make_trainer(accelerator=3)


# ------------------------------------------------------------------------------ devices
@pytest.mark.parametrize(
    ("devices", "available", "expected"),
    [
        (1, 4, [0]),
        (3, 4, [0, 1, 2]),
        (-1, 3, [0, 1, 2]),
        ("-1", 2, [0, 1]),
        ("3", 4, [0, 1, 2]),
        ("1,3", 4, [1, 3]),
        ("2,", 4, [2]),
        ([1], 2, [1]),
        ((0, 1), 2, [0, 1]),
    ],
)
def test_gpu_device_parsing_follows_lightning(devices: Any, available: int, expected: list) -> None:
    assert parse_device_indices(devices, available, "cuda") == expected


@pytest.mark.parametrize(
    ("devices", "error", "words"),
    [
        (0, MisconfigurationException, "devices=0"),
        ("0", MisconfigurationException, "devices=0"),
        ([], MisconfigurationException, "selects no cuda device"),
        ([0, 0], MisconfigurationException, "twice"),
        (5, MisconfigurationException, "has 2 cuda device"),
        ([2], MisconfigurationException, r"device\(s\) \[2\]"),
        (-2, MisconfigurationException, "devices=-2"),
        (1.5, TypeError, "devices"),
        (True, TypeError, "devices"),
        (None, TypeError, "devices"),
        ("abc", TypeError, "devices='abc'"),
        (["0"], TypeError, "device indices"),
    ],
)
def test_bad_gpu_devices_are_named(devices: Any, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        parse_device_indices(devices, 2, "cuda")


@pytest.mark.parametrize("devices", [1, "1", "auto"])
def test_cpu_one_device(make_trainer: Any, devices: Any) -> None:
    trainer = make_trainer(accelerator="cpu", devices=devices)
    assert (trainer.num_devices, trainer.device_ids, trainer.world_size) == (1, [0], 1)
    assert (trainer.global_rank, trainer.local_rank, trainer.node_rank) == (0, 0, 0)


@pytest.mark.parametrize("devices", [0, "0", [], -1, "-1", [0], 1.5, "abc", None])
def test_cpu_invalid_devices_mention_devices(make_trainer: Any, devices: Any) -> None:
    with pytest.raises((TypeError, MisconfigurationException), match="devices"):
        make_trainer(accelerator="cpu", devices=devices)


@pytest.mark.parametrize("devices", [2, "2"])
def test_more_than_one_device_is_refused_clearly(make_trainer: Any, devices: Any) -> None:
    with pytest.raises(MisconfigurationException, match="single device"):
        make_trainer(accelerator="cpu", devices=devices)


def test_a_cuda_index_selects_that_device(
    monkeypatch: pytest.MonkeyPatch, make_trainer: Any
) -> None:
    _pretend(monkeypatch, CUDAAccelerator, 2)
    trainer = make_trainer(accelerator="cuda", devices=[1])
    assert trainer.strategy.root_device == torch.device("cuda", 1)
    assert trainer.device_ids == [1] and trainer.num_devices == 1
    # "auto" is one device for the single-device reference (Lightning would run DDP on both)
    assert make_trainer(accelerator="cuda", devices="auto").strategy.root_device == torch.device(
        "cuda", 0
    )
    with pytest.raises(MisconfigurationException, match="single device"):
        make_trainer(accelerator="cuda", devices=-1)


@pytest.mark.filterwarnings("ignore:torch.cuda.amp.GradScaler is enabled, but CUDA")
def test_cuda_16_mixed_gets_a_cuda_grad_scaler(
    monkeypatch: pytest.MonkeyPatch, make_trainer: Any
) -> None:
    _pretend(monkeypatch, CUDAAccelerator, 1)
    trainer = make_trainer(accelerator="gpu", precision="16-mixed")
    plugin = trainer.precision_plugin
    assert isinstance(plugin, MixedPrecision) and plugin.device == "cuda"
    assert trainer.precision == "16-mixed"  # no CPU fallback on an accelerator
    assert isinstance(trainer.scaler, torch.amp.GradScaler) and trainer.scaler is plugin.scaler


@pytest.mark.parametrize(
    ("devices", "expected"), [(1, [0]), ("1", [0]), ("auto", [0]), ([0], [0]), ("0,", [0])]
)
def test_xla_devices(monkeypatch: pytest.MonkeyPatch, devices: Any, expected: list) -> None:
    _pretend(monkeypatch, XLAAccelerator, 1)
    from reference.trainer.connector import resolve_devices

    assert resolve_devices(devices, XLAAccelerator()) == [torch.device("xla", i) for i in expected]


@pytest.mark.parametrize("devices", [0, 8, [3], "x", None, -1])
def test_xla_bad_devices(monkeypatch: pytest.MonkeyPatch, devices: Any) -> None:
    _pretend(monkeypatch, XLAAccelerator, 1)
    with pytest.raises(MisconfigurationException, match="not valid for the tpu"):
        XLAAccelerator.parse_devices(devices)


def test_xla_gets_the_xla_strategy_and_precision(
    monkeypatch: pytest.MonkeyPatch, make_trainer: Any
) -> None:
    _pretend(monkeypatch, XLAAccelerator, 1)
    trainer = make_trainer(accelerator="tpu", precision="bf16-true")
    assert type(trainer.strategy) is SingleDeviceXLAStrategy
    assert isinstance(trainer.precision_plugin, XLAPrecision)
    assert trainer.precision == "bf16-true" and trainer.scaler is None
    for refused in ("64-true", "16-mixed", "bf16-mixed"):
        with pytest.raises(ValueError, match="not supported on XLA devices"):
            make_trainer(accelerator="tpu", precision=refused)


def test_xla_is_absent_without_a_configured_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    from reference.accelerators import xla

    monkeypatch.delenv("PJRT_DEVICE", raising=False)
    xla.runtime_device_count.cache_clear()
    try:
        assert not XLAAccelerator.is_available() and XLAAccelerator.auto_device_count() == 0
    finally:
        xla.runtime_device_count.cache_clear()


# ---------------------------------------------------------------------------- strategies
def test_strategy_names(make_trainer: Any) -> None:
    assert type(make_trainer(strategy="auto").strategy) is SingleDeviceStrategy
    assert type(make_trainer(strategy="single_device").strategy) is SingleDeviceStrategy
    with pytest.raises(MisconfigurationException, match="needs an XLA device"):
        make_trainer(strategy="single_xla")
    with pytest.raises(MisconfigurationException, match="not supported.*'single_device'"):
        make_trainer(strategy="ddp")
    with pytest.raises(ValueError, match="invalid strategy name"):
        make_trainer(strategy="foo")


def test_a_strategy_instance_gets_the_trainers_plugins(make_trainer: Any) -> None:
    strategy = SingleDeviceStrategy("cpu")
    trainer = make_trainer(strategy=strategy, precision="bf16-mixed")
    assert trainer.strategy is strategy
    assert strategy.accelerator is trainer.accelerator
    assert strategy.precision_plugin is trainer.precision_plugin
    assert trainer.precision == "bf16-mixed"


def test_one_device_collectives_are_identities(make_trainer: Any) -> None:
    seen: dict[str, Any] = {}

    class Gathering(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            payload = {"x": batch[0], "n": 2.5, "nested": [batch[0][:1]]}
            seen["gathered"] = self.all_gather(payload)
            seen["payload"] = payload
            seen["broadcast"] = self.trainer.strategy.broadcast(payload)
            seen["reduced"] = self.trainer.strategy.reduce(batch[0])
            return self.layer(batch[0]).sum()

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(2, 2)))
    make_trainer(max_steps=1).fit(Gathering(), data)
    gathered, payload = seen["gathered"], seen["payload"]
    assert gathered["x"] is payload["x"] and gathered["nested"][0] is payload["nested"][0]
    assert isinstance(gathered["n"], torch.Tensor) and float(gathered["n"]) == 2.5
    assert seen["broadcast"] is payload
    assert torch.equal(seen["reduced"], payload["x"])
