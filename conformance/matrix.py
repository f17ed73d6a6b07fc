"""The device × precision matrix: how device clauses are parametrized, skipped and run.

Convention (the harness and the certificate rely on it; ``docs/device-matrix.md`` says the same):

* A device clause is parametrized with ``pytest.mark.parametrize`` on two arguments literally
  named ``device`` and ``precision``, through :func:`parametrize`. Every such clause takes *both*,
  even where one does not matter (a transfer clause runs ``precisions=("32-true",)``), so a test
  id always starts with ``<device>-<precision>``: ``cpu-32-true``, ``cuda-16-mixed``,
  ``xla-bf16-true``. Other parameters append to the id: put their ``parametrize`` decorator
  *above* ``@matrix.parametrize(...)`` so that the cell comes first (``cpu-16-mixed-auto``).
* ``device`` is one of :data:`DEVICES` (hardware, not the ``accelerator=`` flag spelling:
  ``"xla"`` is requested with ``accelerator="tpu"``, see :data:`ACCELERATOR_FLAG`); ``precision``
  is one of :data:`PRECISIONS` (Lightning 2.x value strings; the legacy aliases are PRECVAL's job).
* The first thing a device clause does is ``require_cell(target, device, precision)``. A cell
  that cannot or need not run becomes ``pytest.skip(reason)``, which the harness reports as
  ``not_run`` with that reason, never as passed. Reasons, checked in this order:

  1. the target's ``TRAINSPEC`` declaration lists devices/precisions and not this one
     (``"target does not claim ..."``);
  2. the hardware is absent (:func:`conformance.target.device_probe`:
     ``"cuda not available: torch.cuda.is_available() is False"``);
  3. the combination is not meaningful anywhere (:data:`NOT_MEANINGFUL`, e.g. float64 on MPS);
  4. the clause itself excludes the cell (``exclude=``), with the clause's reason — e.g. the
     GradScaler clauses exclude ``cpu-16-mixed`` because Lightning falls back to ``bf16-mixed``
     there (PRECVAL-006 checks that fallback).

* A clause builds its Trainer for the cell with :func:`trainer_flags` (``accelerator``,
  ``devices=1``, ``precision``), passed to the ``make_trainer`` fixture.

The harness reads ``item.callspec.params["device"]`` and ``["precision"]`` to build the matrix
section of a certificate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import torch

from conformance.target import Target, device_probe

DEVICES: tuple[str, ...] = ("cpu", "cuda", "mps", "xla")
PRECISIONS: tuple[str, ...] = (
    "64-true",
    "32-true",
    "16-mixed",
    "bf16-mixed",
    "16-true",
    "bf16-true",
)

# The ``Trainer(accelerator=...)`` value that selects each device.
ACCELERATOR_FLAG: Mapping[str, str] = {"cpu": "cpu", "cuda": "cuda", "mps": "mps", "xla": "tpu"}

# ``torch.device(...).type`` of each device (also the ``torch.autocast`` device type).
TORCH_DEVICE_TYPE: Mapping[str, str] = {"cpu": "cpu", "cuda": "cuda", "mps": "mps", "xla": "xla"}

# Cells no trainer is expected to run, whatever the clause.
NOT_MEANINGFUL: Mapping[tuple[str, str], str] = {
    ("mps", "64-true"): "mps-64-true not meaningful: MPS has no float64",
    **{
        ("xla", precision): (
            f"xla-{precision} not meaningful: XLA trains in 32-true, 16-true or bf16-true only "
            "(no float64, no autocast/GradScaler mixed precision; Lightning's XLAPrecision "
            "rejects it)"
        )
        for precision in ("64-true", "16-mixed", "bf16-mixed")
    },
}


@dataclass(frozen=True)
class Cell:
    """One runnable matrix cell."""

    device: str
    precision: str

    @property
    def id(self) -> str:
        return cell_id(self.device, self.precision)

    @property
    def device_type(self) -> str:
        """What ``tensor.device.type`` is for tensors on this device."""
        return TORCH_DEVICE_TYPE[self.device]

    @property
    def effective_precision(self) -> str:
        return effective_precision(self.device, self.precision)

    def trainer_flags(self) -> dict[str, Any]:
        return trainer_flags(self.device, self.precision)


def cell_id(device: str, precision: str) -> str:
    return f"{device}-{precision}"


def effective_precision(device: str, precision: str) -> str:
    """The precision Lightning actually runs for a cell: fp16 AMP on CPU becomes bf16 AMP."""
    if device == "cpu" and precision == "16-mixed":
        return "bf16-mixed"
    return precision


def cells(devices: Iterable[str] = DEVICES, precisions: Iterable[str] = PRECISIONS) -> list[Any]:
    """``pytest.param(device, precision, id="<device>-<precision>")`` for every combination."""
    devices, precisions = tuple(devices), tuple(precisions)
    _check_known(devices, precisions)
    return [
        pytest.param(device, precision, id=cell_id(device, precision))
        for device in devices
        for precision in precisions
    ]


def parametrize(
    devices: Iterable[str] = DEVICES, precisions: Iterable[str] = PRECISIONS
) -> pytest.MarkDecorator:
    """Parametrize a clause over ``device`` × ``precision`` (the matrix convention)."""
    return pytest.mark.parametrize(("device", "precision"), cells(devices, precisions))


def _check_known(devices: Iterable[str], precisions: Iterable[str]) -> None:
    unknown = [d for d in devices if d not in DEVICES] + [
        p for p in precisions if p not in PRECISIONS
    ]
    if unknown:
        raise ValueError(
            f"unknown matrix value(s) {unknown}; devices are {DEVICES}, precisions {PRECISIONS}"
        )


def available_devices() -> tuple[str, ...]:
    """The devices present on this machine, in :data:`DEVICES` order."""
    probe = device_probe()
    return tuple(device for device in DEVICES if probe[device] is None)


def claimed_devices(target: Target) -> tuple[str, ...]:
    """The devices the target claims (its declaration), else all of :data:`DEVICES`."""
    declared = target.declaration.claimed_devices()
    return DEVICES if declared is None else tuple(d for d in DEVICES if d in declared)


def claimed_precisions(target: Target) -> tuple[str, ...]:
    """The precisions the target claims (its declaration), else all of :data:`PRECISIONS`."""
    declared = target.declaration.claimed_precisions()
    return PRECISIONS if declared is None else tuple(p for p in PRECISIONS if p in declared)


def not_run_reason(
    target: Target,
    device: str,
    precision: str,
    exclude: Mapping[tuple[str, str], str] | None = None,
) -> str | None:
    """Why this cell is not run for this target on this machine, or None if it runs."""
    _check_known((device,), (precision,))
    declaration = target.declaration
    claimed_devices = declaration.claimed_devices()
    if claimed_devices is not None and device not in claimed_devices:
        return (
            f"target does not claim device {device!r} "
            f"(TRAINSPEC devices: {', '.join(sorted(claimed_devices)) or 'none'})"
        )
    claimed_precisions = declaration.claimed_precisions()
    if claimed_precisions is not None and precision not in claimed_precisions:
        return (
            f"target does not claim precision {precision!r} "
            f"(TRAINSPEC precisions: {', '.join(sorted(claimed_precisions)) or 'none'})"
        )
    absent = device_probe()[device]
    if absent is not None:
        return absent
    if (device, precision) in NOT_MEANINGFUL:
        return NOT_MEANINGFUL[(device, precision)]
    if exclude and (device, precision) in exclude:
        return exclude[(device, precision)]
    return None


def require_cell(
    target: Target,
    device: str,
    precision: str,
    exclude: Mapping[tuple[str, str], str] | None = None,
) -> Cell:
    """The cell to run, or ``pytest.skip(reason)`` (reported ``not_run``) when it cannot run."""
    reason = not_run_reason(target, device, precision, exclude)
    if reason is not None:
        pytest.skip(reason)
    return Cell(device, precision)


def torch_device(device: str) -> torch.device:
    """The ``torch.device`` a trainer running on ``device`` (one device) puts tensors on."""
    _check_known((device,), PRECISIONS[:1])
    if device == "cuda":
        return torch.device("cuda", torch.cuda.current_device())
    if device == "xla":
        import torch_xla.core.xla_model as xm  # only importable where the device exists

        return torch.device(xm.xla_device())
    return torch.device(device)


def trainer_flags(device: str, precision: str) -> dict[str, Any]:
    """The Trainer flags that select one cell: one device of that kind, that precision."""
    _check_known((device,), (precision,))
    return {"accelerator": ACCELERATOR_FLAG[device], "devices": 1, "precision": precision}
