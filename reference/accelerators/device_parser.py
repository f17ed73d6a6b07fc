"""Parsing ``Trainer(devices=...)`` for accelerators that number their devices (CUDA, MPS).

Lightning's rules (facts §6): an int ``N > 0`` means the first ``N`` devices, ``-1`` (or
``"-1"``) all of them, a list the devices with those indices, a string ``"3"`` the first three
and ``"1,3"`` the devices 1 and 3. ``0``, ``"0"`` and ``[]`` ask for no device and are an error
here (an accelerator was chosen, so at least one device is needed); duplicates are an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reference.utilities.exceptions import MisconfigurationException


def parse_device_indices(devices: Any, available: int, kind: str) -> list[int]:
    """The indices of the devices ``devices`` selects among ``available`` devices of ``kind``."""
    if isinstance(devices, bool) or not isinstance(devices, (int, str, Sequence)):
        raise TypeError(
            f"`devices` for {kind} must be an int, a string or a list of ints, got {devices!r}"
        )
    if isinstance(devices, str):
        devices = _from_string(devices, kind)
    if isinstance(devices, int):
        if devices == 0:
            raise MisconfigurationException(
                f"`devices=0` selects no {kind} device; use devices=1 (or 'auto') to run on one"
            )
        if devices == -1:
            indices = list(range(available))
        elif devices < -1:
            raise MisconfigurationException(
                f"`devices={devices}` is not valid for {kind}: use a positive number, -1 for all,"
                " or a list of device indices"
            )
        else:
            indices = list(range(devices))
    else:
        indices = list(devices)
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in indices):
            raise TypeError(f"`devices` must list device indices (ints), got {devices!r}")
    if not indices:
        raise MisconfigurationException(
            f"`devices={devices!r}` selects no {kind} device, and {available} are available"
        )
    if len(set(indices)) != len(indices):
        raise MisconfigurationException(f"`devices={devices!r}` lists a {kind} device twice")
    missing = [i for i in indices if not 0 <= i < available]
    if missing:
        raise MisconfigurationException(
            f"`devices={devices!r}` asks for {kind} device(s) {missing}, but this machine has"
            f" {available} {kind} device(s) (indices 0 to {available - 1})"
        )
    return indices


def _from_string(text: str, kind: str) -> int | list[int]:
    text = text.strip()
    try:
        if "," in text:
            return [int(part) for part in text.split(",") if part.strip()]
        return int(text)
    except ValueError:
        raise TypeError(
            f"`devices={text!r}` for {kind} is not a number or a comma-separated list of device"
            " indices"
        ) from None
