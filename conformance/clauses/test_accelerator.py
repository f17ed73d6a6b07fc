"""ACCEL: accelerator names and devices, their errors, and the one-device collectives.

Clauses that run on a device follow the matrix convention of :mod:`conformance.matrix`. Clauses
about *absent* hardware are parametrized by the ``accelerator`` flag instead (they can only run
where that hardware is missing, which would read as an inverted matrix cell).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from conformance import matrix
from conformance.kit.citations import docs_silent
from conformance.kit.devices import same_device, tensors_in
from conformance.registry import clause, facts, seed
from conformance.target import Target

ACCELERATORS = facts(
    "§6",
    "Names: 'cpu', 'cuda', 'gpu', 'mps', 'tpu', 'auto'; 'auto' picks TPU "
    "(XLA) > MPS > CUDA > CPU; 'gpu' picks MPS if available else CUDA, else "
    "error. Unavailable requested accelerator -> MisconfigurationException "
    "listing available ones.",
)
DEVICES_CPU = facts(
    "§6",
    "CPU: devices must be an int > 0 or a digit string (-1 or a list -> "
    "TypeError; 0 -> MisconfigurationException); 'auto' -> 1. devices=N>1 (or "
    "'2') on CPU -> DDPStrategy over N processes",
)
ONE_PER_HARDWARE = seed(
    "004",
    "Accelerator",
    "An Accelerator is meant to deal with one type of "
    "Hardware. Currently there are accelerators for: CPU, GPU, TPU",
)
FLAGS_SILENT = docs_silent("the Trainer's accelerator and devices flags")
# accelerator="gpu"/"tpu" and the device each needs.
NEEDS = {"cuda": ("cuda",), "mps": ("mps",), "gpu": ("cuda", "mps"), "tpu": ("xla",)}


def _available_names() -> list[str]:
    return [matrix.ACCELERATOR_FLAG[d] for d in matrix.available_devices()]


def _skip_if_present(accelerator: str) -> None:
    present = [d for d in NEEDS[accelerator] if d in matrix.available_devices()]
    if present:
        pytest.skip(
            f"accelerator={accelerator!r} is available here ({', '.join(present)}); "
            "this clause needs a machine without it"
        )


class _Seen:
    """What the collective clauses' training step saw, kept outside the module."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}


def _collectives_model(target: Target, seen: _Seen, call: str) -> Any:
    class CollectivesModel(target.LightningModule):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x = batch[0]
            if call == "all_gather":
                inputs = {
                    "tensor": x,
                    "nested": {"list": [x * 2], "tuple": (x.sum(),)},
                    "number": 3.0,
                }
                seen.values = {
                    "inputs": inputs,
                    "out": self.all_gather(inputs),
                    "device": self.device,
                }
            else:
                payloads = {"tensor": x, "dict": {"a": x}, "text": "broadcast me"}
                seen.values = {
                    name: (obj, self.trainer.strategy.broadcast(obj, src=0))
                    for name, obj in payloads.items()
                }
            return self.layer(x).sum()

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.01)

        def train_dataloader(self) -> Any:
            data = torch.utils.data.TensorDataset(torch.arange(8.0).reshape(2, 4))
            return torch.utils.data.DataLoader(data, batch_size=2)

    return CollectivesModel()


def _fit_once(make_trainer: Any, model: Any, **flags: Any) -> None:
    trainer = make_trainer(**flags, max_steps=1, limit_val_batches=0, num_sanity_val_steps=0)
    trainer.fit(model)


@clause(
    "ACCEL-001",
    "accelerator='auto' runs on the best device present (XLA, then MPS, then CUDA, then CPU) and "
    "'gpu' on MPS if present, else CUDA",
    level="de-facto",
    source=ACCELERATORS,
    docs_say=ONE_PER_HARDWARE,
)
@pytest.mark.parametrize("accelerator", ["auto", "gpu"])
def test_auto_and_gpu_pick_a_device(target: Target, make_trainer: Any, accelerator: str) -> None:
    order = ("xla", "mps", "cuda", "cpu") if accelerator == "auto" else ("mps", "cuda")
    present = [d for d in order if d in matrix.available_devices()]
    if not present:
        pytest.skip("no CUDA or MPS device here (ACCEL-004 checks the error)")
    expected = matrix.TORCH_DEVICE_TYPE[present[0]]
    seen = _Seen()
    _fit_once(
        make_trainer,
        _collectives_model(target, seen, "broadcast"),
        accelerator=accelerator,
        devices=1,
    )
    tensor = seen.values["tensor"][0]
    assert tensor.device.type == expected, (
        f"accelerator={accelerator!r} trained on {tensor.device}, expected {expected}"
    )


@clause(
    "ACCEL-002",
    "An unknown accelerator name fails at Trainer construction with a ValueError naming it and "
    "listing the valid names (auto, cpu, cuda, mps, tpu, or those the target claims)",
    level="de-facto",
    source=facts(
        "§6",
        "Invalid name (including 'hpu' since 2.5.6) -> ValueError 'You selected an "
        "invalid accelerator name'",
    ),
    docs_say=FLAGS_SILENT,
)
@pytest.mark.parametrize("name", ["foo", "hpu", "cpux"])
def test_unknown_accelerator_name(target: Target, make_trainer: Any, name: str) -> None:
    with pytest.raises(ValueError) as raised:
        make_trainer(accelerator=name)
    message = str(raised.value)
    names = ["auto"] + [matrix.ACCELERATOR_FLAG[d] for d in matrix.claimed_devices(target)]
    missing = [n for n in names if n not in message]
    assert name in message and not missing, (
        f"the error for accelerator={name!r} does not name it or omits {missing}: {message}"
    )


@clause(
    "ACCEL-003",
    "accelerator='cuda' or 'mps' without that hardware fails at Trainer construction, naming it "
    "and listing the accelerators that are available",
    level="de-facto",
    source=ACCELERATORS,
    docs_say=FLAGS_SILENT,
)
@pytest.mark.parametrize("accelerator", ["cuda", "mps"])
def test_unavailable_accelerator(make_trainer: Any, accelerator: str) -> None:
    _skip_if_present(accelerator)
    with pytest.raises(Exception) as raised:  # noqa: B017 - any type, the message is the rule
        make_trainer(accelerator=accelerator)
    message = str(raised.value)
    missing = [n for n in _available_names() if n not in message]
    assert accelerator in message.lower() and not missing, (
        f"the error for accelerator={accelerator!r} does not name it or omits the available "
        f"{missing}: {type(raised.value).__name__}: {message}"
    )


@clause(
    "ACCEL-004",
    "accelerator='gpu' or 'tpu' without such hardware fails at Trainer construction with an "
    "error listing the accelerators that are available",
    level="extended",
    source=ACCELERATORS,
)
@pytest.mark.parametrize("accelerator", ["gpu", "tpu"])
def test_unavailable_gpu_or_tpu_lists_alternatives(make_trainer: Any, accelerator: str) -> None:
    _skip_if_present(accelerator)
    with pytest.raises(Exception) as raised:  # noqa: B017 - any type, the message is the rule
        make_trainer(accelerator=accelerator)
    message = str(raised.value)
    missing = [n for n in _available_names() if n not in message]
    assert not missing, (
        f"the error for accelerator={accelerator!r} does not list the available {missing}: "
        f"{type(raised.value).__name__}: {message}"
    )


@clause(
    "ACCEL-005",
    "On CPU, devices=1, '1' and 'auto' give one device: num_devices == 1, device_ids == [0]",
    level="de-facto",
    source=DEVICES_CPU,
    docs_say=FLAGS_SILENT,
)
@pytest.mark.parametrize("devices", [1, "1", "auto"], ids=repr)
def test_cpu_devices_one(make_trainer: Any, devices: Any) -> None:
    trainer = make_trainer(accelerator="cpu", devices=devices)
    assert (trainer.num_devices, list(trainer.device_ids)) == (1, [0]), (
        f"devices={devices!r}: num_devices={trainer.num_devices}, device_ids={trainer.device_ids}"
    )


@clause(
    "ACCEL-006",
    "On CPU, devices=0, '0', [], -1, '-1', [0], 1.5, 'abc' or None fails at Trainer construction "
    "with an error about devices",
    level="de-facto",
    source=DEVICES_CPU,
    docs_say=FLAGS_SILENT,
)
@pytest.mark.parametrize("devices", [0, "0", [], -1, "-1", [0], 1.5, "abc", None], ids=repr)
def test_cpu_devices_invalid(make_trainer: Any, devices: Any) -> None:
    with pytest.raises(Exception) as raised:  # noqa: B017 - Lightning mixes TypeError/Misconf.
        make_trainer(accelerator="cpu", devices=devices)
    message = str(raised.value)
    assert "devices" in message, (
        f"devices={devices!r} failed with {type(raised.value).__name__}: {message} "
        "(the message does not mention devices)"
    )


@clause(
    "ACCEL-007",
    "On CPU, devices=2 or '2' gives two devices (num_devices == 2, device_ids == [0, 1])",
    level="de-facto",
    source=DEVICES_CPU,
    docs_say=FLAGS_SILENT,
)
@pytest.mark.parametrize("devices", [2, "2"], ids=repr)
def test_cpu_devices_two(target: Target, make_trainer: Any, devices: Any) -> None:
    strategies = target.declaration.strategies
    if strategies is not None and "ddp" not in strategies:
        pytest.skip(
            f"target does not claim strategy 'ddp' (TRAINSPEC strategies: "
            f"{', '.join(strategies) or 'none'}); devices=2 on CPU runs DDP"
        )
    trainer = make_trainer(accelerator="cpu", devices=devices)
    assert (trainer.num_devices, list(trainer.device_ids)) == (2, [0, 1]), (
        f"devices={devices!r}: num_devices={trainer.num_devices}, device_ids={trainer.device_ids}"
    )


@clause(
    "ACCEL-008",
    "With devices=1 the Trainer reports one process on one device: num_devices 1, device_ids "
    "[0], world_size 1, global_rank, local_rank and node_rank 0",
    level="de-facto",
    source=facts(
        "§6",
        "trainer.num_devices, trainer.device_ids, trainer.world_size, global_rank, "
        "local_rank, node_rank",
    ),
    docs_say=seed(
        "002",
        "Properties: global_rank",
        "The global_rank is the index of the current process across all nodes and devices.",
    ),
)
@matrix.parametrize(precisions=("32-true",))
def test_single_device_topology(
    target: Target, make_trainer: Any, device: str, precision: str
) -> None:
    cell = matrix.require_cell(target, device, precision)
    trainer = make_trainer(**cell.trainer_flags())
    seen = {
        name: getattr(trainer, name)
        for name in ("num_devices", "world_size", "global_rank", "local_rank", "node_rank")
    }
    seen["device_ids"] = list(trainer.device_ids)
    expected = {
        "num_devices": 1,
        "world_size": 1,
        "global_rank": 0,
        "local_rank": 0,
        "node_rank": 0,
        "device_ids": [0],
    }
    assert seen == expected, f"{seen} != {expected}"


@clause(
    "ACCEL-009",
    "On one device self.all_gather returns the input unchanged in shape and values (no world "
    "dimension), keeps collections, and turns Python numbers into tensors on the model's device",
    level="de-facto",
    source=facts("§6", "all_gather/broadcast (identity on one device)"),
    docs_say=seed(
        "004", "Accelerator.all_gather", "Returns: A tensor of shape (world_size, batch, …)"
    ),
)
@matrix.parametrize(precisions=("32-true",))
def test_all_gather_on_one_device(
    target: Target, make_trainer: Any, device: str, precision: str
) -> None:
    cell = matrix.require_cell(target, device, precision)
    seen = _Seen()
    _fit_once(make_trainer, _collectives_model(target, seen, "all_gather"), **cell.trainer_flags())
    inputs, out, module_device = seen.values["inputs"], seen.values["out"], seen.values["device"]
    assert isinstance(out, dict) and isinstance(out.get("nested"), dict), f"got {out!r}"
    assert isinstance(out["nested"]["list"], list) and isinstance(out["nested"]["tuple"], tuple)
    pairs = dict(tensors_in(inputs))
    gathered = dict(tensors_in(out))
    assert gathered.keys() == pairs.keys() | {"batch['number']"}, (
        f"tensors came back at {sorted(gathered)}, sent {sorted(pairs)} and a number"
    )
    for path, tensor in pairs.items():
        assert gathered[path].shape == tensor.shape, (
            f"{path}: shape {tuple(tensor.shape)} came back as {tuple(gathered[path].shape)}"
        )
        assert torch.equal(gathered[path].cpu(), tensor.detach().cpu()), f"{path}: values changed"
    number = gathered["batch['number']"]
    assert float(number) == 3.0 and same_device(number.device, module_device), (
        f"the number 3.0 came back as {number!r}, model on {module_device}"
    )


@clause(
    "ACCEL-010",
    "On one device trainer.strategy.broadcast(obj) returns obj itself",
    level="de-facto",
    source=facts("§6", "all_gather/broadcast (identity on one device)"),
    docs_say=seed(
        "004",
        "Accelerator.broadcast",
        "Broadcasts an object to all processes, such "
        "that the src object is broadcast to all other ranks if needed.",
    ),
)
@matrix.parametrize(precisions=("32-true",))
def test_broadcast_on_one_device(
    target: Target, make_trainer: Any, device: str, precision: str
) -> None:
    cell = matrix.require_cell(target, device, precision)
    seen = _Seen()
    _fit_once(make_trainer, _collectives_model(target, seen, "broadcast"), **cell.trainer_flags())
    assert seen.values, "the training step did not run"
    wrong = [name for name, (sent, got) in seen.values.items() if got is not sent]
    assert not wrong, f"broadcast returned other objects for {wrong}"


@clause(
    "ACCEL-011",
    "The Trainer composes one accelerator, one strategy and one precision plugin: "
    "trainer.strategy.accelerator is trainer.accelerator and trainer.strategy.precision_plugin "
    "is trainer.precision_plugin",
    level="de-facto",
    source=facts("§5", "The active value is trainer.precision and trainer.precision_plugin"),
    docs_say=seed(
        "004",
        "Accelerator",
        "Each Accelerator gets two plugins upon initialization: "
        "One to handle differences from the training routine and one to handle "
        "different precisions.",
    ),
)
@matrix.parametrize()
def test_trainer_composition(
    target: Target, make_trainer: Any, device: str, precision: str
) -> None:
    cell = matrix.require_cell(target, device, precision)
    trainer = make_trainer(**cell.trainer_flags())
    strategy = trainer.strategy
    assert trainer.accelerator is not None and trainer.precision_plugin is not None
    assert strategy.accelerator is trainer.accelerator, (
        f"strategy.accelerator {strategy.accelerator!r} is not trainer.accelerator "
        f"{trainer.accelerator!r}"
    )
    assert strategy.precision_plugin is trainer.precision_plugin, (
        f"strategy.precision_plugin {strategy.precision_plugin!r} is not trainer.precision_plugin "
        f"{trainer.precision_plugin!r}"
    )
