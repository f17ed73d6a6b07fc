"""XFER: the default ``LightningModule.transfer_batch_to_device`` on arbitrarily nested batches.

A hypothesis property: batches drawn from :func:`conformance.kit.transfer.nested_batches`
(tensors, Python scalars, strings, None, opaque objects and objects with ``.to`` nested in lists,
tuples, dicts, namedtuples and dataclasses) are passed to the target's default hook directly, as
the trainer does, and the result is compared leaf by leaf. Each clause checks one rule.
"""

from __future__ import annotations

from typing import Any

import torch
from hypothesis import given

from conformance import matrix
from conformance.kit.transfer import (
    LEAF,
    STRUCTURE,
    TENSOR,
    nested_batches,
    transfer_problems,
)
from conformance.registry import clause, facts, seed
from conformance.target import Target

BATCH_TO_DEVICE = seed(
    "004",
    "Accelerator.batch_to_device",
    "The returned batch is of the same type as the input batch, just having all tensors on the "
    "correct device.",
)
on_device = matrix.parametrize(precisions=("32-true",))
_BARE: dict[int, type] = {}


def _bare_module(target: Target) -> Any:
    key = id(target.LightningModule)
    if key not in _BARE:

        class BareModule(target.LightningModule):  # type: ignore[name-defined,misc]
            def __init__(self) -> None:
                super().__init__()
                self.layer = torch.nn.Linear(2, 2)

        _BARE[key] = BareModule
    return _BARE[key]()


def _check(target: Target, device: str, precision: str, kind: str) -> None:
    """Run the property for one kind of problem on one cell."""
    cell = matrix.require_cell(target, device, precision)
    module = _bare_module(target)
    destination = matrix.torch_device(cell.device)

    @given(batch=nested_batches(float64=cell.device != "mps"))
    def transfer_keeps_rule(batch: Any) -> None:
        moved = module.transfer_batch_to_device(batch, destination, 0)
        problems = [msg for k, msg in transfer_problems(batch, moved, destination) if k == kind]
        assert not problems, "; ".join(problems)

    transfer_keeps_rule()


@clause(
    "XFER-002",
    "The default transfer_batch_to_device returns lists, tuples, dicts, namedtuples and "
    "dataclasses as the same types with the same keys, fields and lengths",
    level="core",
    source=BATCH_TO_DEVICE,
)
@on_device
def test_default_transfer_keeps_structure(target: Target, device: str, precision: str) -> None:
    _check(target, device, precision, STRUCTURE)


@clause(
    "XFER-003",
    "The default transfer_batch_to_device puts every tensor on the device with its dtype, shape "
    "and values unchanged",
    level="core",
    source=BATCH_TO_DEVICE,
)
@on_device
def test_default_transfer_moves_tensors(target: Target, device: str, precision: str) -> None:
    _check(target, device, precision, TENSOR)


@clause(
    "XFER-005",
    "The default transfer_batch_to_device returns objects without .to() (numbers, strings, None, "
    "other objects) as the very same objects",
    level="de-facto",
    source=facts("§6 Data movement", "calls .to(device) on anything that has it"),
    docs_say=seed(
        "004",
        "Accelerator.batch_to_device",
        "just having all tensors on the correct device (other objects not mentioned)",
    ),
)
@on_device
def test_default_transfer_leaves_other_objects(target: Target, device: str, precision: str) -> None:
    _check(target, device, precision, LEAF)
