"""XFER: every batch reaches the model's device through the batch-transfer hooks.

Device clauses follow the matrix convention of :mod:`conformance.matrix` (``device`` ×
``precision`` parameters; precision does not change how a batch moves, so these run
``32-true`` only). The runs fit two training batches and one batch from each of two validation
dataloaders, then test and predict one batch each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from conformance import matrix
from conformance.kit.citations import docs_silent
from conformance.kit.devices import same_device, tensors_in
from conformance.kit.transfer import Movable, MovableInPlace, Pair
from conformance.kit.transfer_models import (
    TransferEvent,
    chain_model_class,
    datamodule_pair,
    objects_model_class,
)
from conformance.registry import clause, facts, seed
from conformance.target import Target

NO_TO_CALLS = seed(
    "002",
    "LightningModule (introduction)",
    "There are no .cuda() or .to(device) calls required. Lightning does these for you.",
)
BATCH_TO_DEVICE = seed(
    "004",
    "Accelerator.batch_to_device",
    "Moves the batch to the correct device. The returned batch is of the same type as the input "
    "batch, just having all tensors on the correct device.",
)
TRANSFER_PSEUDOCODE = seed(
    "002",
    "Hooks (val_loop pseudocode)",
    "batch = on_before_batch_transfer(batch) / batch = transfer_batch_to_device(batch) / "
    "batch = on_after_batch_transfer(batch) / out = validation_step(batch, batch_idx)",
)
DATA_MOVEMENT = "§6 Data movement"
on_device = matrix.parametrize(precisions=("32-true",))

STEPS = ("train", "val", "test", "predict")
# Batches each loop runs in _chain_run: 2 training, 1 from each of 2 val loaders, 1 test, 1 predict.
EXPECTED_STEPS = {"train": 2, "val": 2, "test": 1, "predict": 1}
RUN_FLAGS = {
    "max_epochs": 1,
    "limit_train_batches": 2,
    "limit_val_batches": 1,
    "limit_test_batches": 1,
    "limit_predict_batches": 1,
    "num_sanity_val_steps": 0,
}


def _chain_run(target: Target, make_trainer: Any, cell: matrix.Cell) -> list[TransferEvent]:
    model = chain_model_class(target)(val_loaders=2)
    trainer = make_trainer(**cell.trainer_flags(), **RUN_FLAGS)
    trainer.fit(model)
    trainer.test(model)
    trainer.predict(model)
    return model.chain.events


def _per_batch(events: list[TransferEvent]) -> list[list[TransferEvent]]:
    """Split the events into batches: each batch ends with the step that consumed it."""
    batches: list[list[TransferEvent]] = []
    current: list[TransferEvent] = []
    for event in events:
        current.append(event)
        if event.hook in STEPS:
            batches.append(current)
            current = []
    if current:
        batches.append(current)
    return batches


@clause(
    "XFER-001",
    "Every training, validation, test and predict step receives its batch on the model's device",
    level="core",
    source=(NO_TO_CALLS, BATCH_TO_DEVICE),
)
@on_device
def test_batches_reach_the_model_device(
    target: Target, make_trainer: Any, device: str, precision: str
) -> None:
    cell = matrix.require_cell(target, device, precision)
    steps = [e for e in _chain_run(target, make_trainer, cell) if e.hook in STEPS]
    assert {e.hook for e in steps} == set(STEPS), f"steps run: {[e.hook for e in steps]}"
    wrong = []
    for event in steps:
        if event.module_device.type != cell.device_type:
            wrong.append(f"{event.hook}: the model is on {event.module_device}")
        for path, tensor in tensors_in(event.batch):
            if not same_device(tensor.device, event.module_device):
                wrong.append(
                    f"{event.hook}: {path} on {tensor.device}, model on {event.module_device}"
                )
    assert not wrong, "; ".join(wrong)


@clause(
    "XFER-007",
    "on_before_batch_transfer, transfer_batch_to_device and on_after_batch_transfer run once per "
    "batch in that order, each receiving what the previous one returned, and the step receives "
    "what on_after_batch_transfer returned",
    level="core",
    source=TRANSFER_PSEUDOCODE,
)
@on_device
def test_transfer_hook_chain(
    target: Target, make_trainer: Any, device: str, precision: str
) -> None:
    cell = matrix.require_cell(target, device, precision)
    batches = _per_batch(_chain_run(target, make_trainer, cell))
    problems = []
    for i, batch in enumerate(batches):
        hooks = [e.hook for e in batch]
        if hooks[-1] not in STEPS:
            problems.append(f"batch {i}: hooks {hooks} ran but no step received the batch")
            continue
        if hooks[:-1] != ["before", "transfer", "after"]:
            problems.append(f"batch {i} ({hooks[-1]}): hooks ran as {hooks}")
        broken = [e.hook for e in batch if not e.chained]
        if broken:
            problems.append(
                f"batch {i} ({hooks[-1]}): {broken} did not receive what the previous stage "
                "returned"
            )
    counts = {step: sum(1 for b in batches if b[-1].hook == step) for step in STEPS}
    assert not problems, "; ".join(problems)
    assert counts == EXPECTED_STEPS, f"batches per loop {counts}, expected {EXPECTED_STEPS}"


@clause(
    "XFER-008",
    "The transfer hooks get (batch, dataloader_idx) and (batch, device, dataloader_idx): device is "
    "the model's torch.device, dataloader_idx the index of the batch's dataloader",
    level="de-facto",
    source=facts(
        "§1.2",
        "on_before_batch_transfer(batch, 0), "
        "transfer_batch_to_device(batch, device, 0), on_after_batch_transfer(batch, 0)",
    ),
    docs_say=seed(
        "002",
        "Hooks (fit_loop pseudocode)",
        "on_before_batch_transfer() transfer_batch_to_device() "
        "on_after_batch_transfer() (no arguments shown)",
    ),
)
@on_device
def test_transfer_hook_arguments(
    target: Target, make_trainer: Any, device: str, precision: str
) -> None:
    cell = matrix.require_cell(target, device, precision)
    batches = [b for b in _per_batch(_chain_run(target, make_trainer, cell)) if len(b) == 4]
    assert batches, "no batch went through all three transfer hooks (see XFER-007)"
    problems = []
    val_indices = []
    for batch in batches:
        step = batch[-1]
        if step.hook == "val":
            val_indices.append(step.dataloader_idx)
        for event in batch[:-1]:
            if event.dataloader_idx != step.dataloader_idx:
                problems.append(
                    f"{step.hook}: {event.hook} got dataloader_idx="
                    f"{event.dataloader_idx!r}, the batch came from loader "
                    f"{step.dataloader_idx}"
                )
        transfer = batch[1]
        if not isinstance(transfer.device, torch.device):
            problems.append(
                f"{step.hook}: transfer_batch_to_device got device="
                f"{transfer.device!r}, not a torch.device"
            )
        elif not same_device(transfer.device, transfer.module_device):
            problems.append(
                f"{step.hook}: transfer_batch_to_device got device="
                f"{transfer.device}, the model is on {transfer.module_device}"
            )
    assert not problems, "; ".join(problems)
    assert sorted(val_indices) == [0, 1], (
        f"two validation dataloaders gave steps with dataloader_idx {val_indices}"
    )


def _fit_objects(
    target: Target, make_trainer: Any, cell: matrix.Cell, make_batch: Callable[..., Any]
) -> Any:
    model = objects_model_class(target)(make_batch)
    trainer = make_trainer(
        **cell.trainer_flags(),
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    trainer.fit(model)
    assert len(model.received) == 2, f"{len(model.received)} training steps ran, expected 2"
    return model


@clause(
    "XFER-004",
    "A user object in the batch with a .to() method is moved by one .to(device) call and "
    "replaced by what that call returns",
    level="de-facto",
    source=facts(
        DATA_MOVEMENT,
        "recurses into lists/tuples/dicts/namedtuples/dataclasses and "
        "calls .to(device) on anything that has it",
    ),
    docs_say=seed(
        "004",
        "Accelerator.batch_to_device",
        "just having all tensors on the correct device (other objects not mentioned)",
    ),
)
@on_device
def test_objects_with_to_are_moved(
    target: Target, make_trainer: Any, device: str, precision: str
) -> None:
    cell = matrix.require_cell(target, device, precision)
    model = _fit_objects(
        target, make_trainer, cell, lambda x: {"inputs": [Movable(x)], "pair": Pair(Movable(x), 1)}
    )
    problems = []
    for made, (received, module_device) in zip(model.made, model.received):
        for name, original, got in (
            ("inputs[0]", made["inputs"][0], received["inputs"][0]),
            ("pair.first", made["pair"].first, received["pair"].first),
        ):
            if len(original.calls) != 1:
                problems.append(f"{name}: .to() called {len(original.calls)} times")
                continue
            called_with = original.calls[0][0]
            if not same_device(torch.device(called_with), module_device):
                problems.append(f"{name}: .to({called_with!r}), model on {module_device}")
            if got is not original.returned[0]:
                problems.append(f"{name}: the step got {got!r}, not what .to() returned")
    assert not problems, "; ".join(problems)


@clause(
    "XFER-006",
    "A user object whose .to() returns None stays in the batch as the same object",
    level="de-facto",
    source=facts(DATA_MOVEMENT, "if a custom .to() returns None the original object is kept"),
    docs_say=docs_silent("a .to() method that returns None"),
)
@on_device
def test_to_returning_none_keeps_the_object(
    target: Target, make_trainer: Any, device: str, precision: str
) -> None:
    cell = matrix.require_cell(target, device, precision)
    model = _fit_objects(target, make_trainer, cell, lambda x: {"obj": MovableInPlace(x)})
    for made, (received, module_device) in zip(model.made, model.received):
        original = made["obj"]
        assert received["obj"] is original, f"the step got {received['obj']!r}, not the object"
        assert len(original.calls) == 1, f".to() called {len(original.calls)} times"
        assert same_device(original.payload.device, module_device)


@clause(
    "XFER-009",
    "With a datamodule, each transfer hook the datamodule overrides replaces the model's; the "
    "others still come from the model",
    level="de-facto",
    source=facts(
        "§1.10",
        "Batch-transfer hooks are taken from the DataModule if it overrides "
        "them, else from the LightningModule",
    ),
    docs_say=docs_silent("batch-transfer hooks defined on a LightningDataModule"),
)
@on_device
def test_datamodule_transfer_hooks(
    target: Target, make_trainer: Any, device: str, precision: str
) -> None:
    cell = matrix.require_cell(target, device, precision)
    if target.LightningDataModule is None:
        pytest.skip("target has no LightningDataModule")
    model_class, datamodule_class = datamodule_pair(target)
    model = model_class()
    datamodule = datamodule_class(model.chain)
    trainer = make_trainer(
        **cell.trainer_flags(),
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    trainer.fit(model, datamodule=datamodule)
    batches = _per_batch(model.chain.events)
    expected = [
        ("datamodule", "before"),
        ("datamodule", "transfer"),
        ("module", "after"),
        ("module", "train"),
    ]
    seen = [[(e.owner, e.hook) for e in batch] for batch in batches]
    assert seen == [expected, expected], f"hooks per batch {seen}, expected {expected} twice"
    broken = [e.hook for batch in batches for e in batch if not e.chained]
    assert not broken, f"{broken} did not receive what the previous stage returned"
