"""Turn the hardware flags (``accelerator``, ``devices``, ``strategy``, ``precision``, ``plugins``,
``num_nodes``) into objects.

The order is Lightning's: the precision value is checked first (a typo fails before any hardware
is probed), then the accelerator is chosen, its devices parsed, the precision plugin picked for
that accelerator, and the strategy built around both (seed 004: an accelerator composed with a
precision plugin and a training-type plugin). Only what the reference implements is accepted;
every other value gets an error that names it and lists the supported values. The registries
live next to the plug-ins (``reference.accelerators``, ``reference.precision``,
``reference.strategies``) so new hardware only has to register there.
"""

from __future__ import annotations

from typing import Any

import torch

from reference import accelerators, precision, strategies
from reference.accelerators.accelerator import Accelerator
from reference.accelerators.xla import XLAAccelerator
from reference.precision import DoublePrecision, HalfPrecision, MixedPrecision, XLAPrecision
from reference.precision.precision import Precision
from reference.strategies.single_device import SingleDeviceStrategy
from reference.strategies.single_xla import SingleDeviceXLAStrategy
from reference.strategies.strategy import Strategy
from reference.utilities.exceptions import MisconfigurationException
from reference.utilities.warnings import info, warn


def _choices(names: Any) -> str:
    return ", ".join(repr(n) for n in names)


def _available() -> str:
    return f"Available accelerators here: {_choices(accelerators.available_accelerators())}."


# ---------------------------------------------------------------------------------- accelerator
def resolve_accelerator(flag: str | Accelerator) -> Accelerator:
    if isinstance(flag, Accelerator):
        return flag
    if not isinstance(flag, str):
        raise TypeError(f"`accelerator` should be a string or an `Accelerator`, got {flag!r}")
    name = flag.lower()
    if name in ("auto", "gpu"):
        order = accelerators.AUTO_PRIORITY if name == "auto" else accelerators.GPU_PRIORITY
        for candidate in order:
            cls = accelerators.ACCELERATORS[candidate]
            if cls.is_available():
                return cls()
        raise MisconfigurationException(
            f"`accelerator={flag!r}` found no supported GPU backend: neither"
            f" {' nor '.join(order)} is available. {_available()}"
        )
    cls = accelerators.ACCELERATORS.get(name)
    if cls is None:
        names = ["auto", *accelerators.ACCELERATORS, "gpu"]
        if name in accelerators.KNOWN_UNSUPPORTED:
            raise MisconfigurationException(
                f"`accelerator={flag!r}` is not supported by the reference trainer yet. Supported:"
                f" {_choices(names)}."
            )
        raise ValueError(
            f"You selected an invalid accelerator name: `accelerator={flag!r}`. Available names"
            f" are: {_choices(names)}."
        )
    if not cls.is_available():
        raise MisconfigurationException(
            f"`accelerator={flag!r}` is not available on this machine"
            f" ({getattr(cls, 'unavailable_reason', 'its is_available() is False')})."
            f" {_available()}"
        )
    return cls()


def resolve_devices(flag: Any, accelerator: Accelerator) -> list[torch.device]:
    """The device list; the reference runs on exactly one device.

    ``devices="auto"`` means one device: the most the single-device strategy can use (Lightning
    would take every device and run DDP).
    """
    parsed = accelerator.parse_devices(1 if flag == "auto" else flag)
    devices = accelerator.get_parallel_devices(parsed)
    if len(devices) != 1:
        raise MisconfigurationException(
            f"`devices={flag!r}` asks for {len(devices)} devices, but the reference trainer runs"
            " on a single device (no DDP). Supported: devices=1, '1', 'auto' or [index]."
        )
    return devices


# ------------------------------------------------------------------------------------ precision
def canonical_precision(flag: Any) -> str | None:
    """The 2.x value for ``precision=flag`` (None when not given); warns for discouraged aliases.

    Anything else is a ValueError naming the value and listing the accepted ones. Floats (16.0)
    and bools are refused rather than matched to an int alias (``16.0 == 16`` in a dict lookup).
    """
    if flag is None:
        return None
    accepted = [*precision.PRECISIONS, *precision.ALIASES]
    if isinstance(flag, (int, str)) and not isinstance(flag, bool):
        if flag in precision.PRECISIONS:
            return flag  # type: ignore[return-value]
        if flag in precision.ALIASES:
            canonical = precision.ALIASES[flag]
            if flag in precision.DISCOURAGED_ALIASES:
                warn(
                    f"`precision={flag}` is supported for historical reasons but its usage is"
                    f" discouraged. Please set your precision to {canonical} instead!",
                    stacklevel=5,  # the user's Trainer(...) call
                )
            return canonical
        if flag in precision.KNOWN_UNSUPPORTED:
            raise ValueError(
                f"`precision={flag!r}` is not supported by the reference trainer. Allowed"
                f" precision values: {_choices(accepted)}."
            )
    raise ValueError(
        f"Precision {flag!r} is invalid. Allowed precision values: {_choices(accepted)}."
    )


def _given_plugin(plugins: Any) -> Precision | None:
    plugin_list = (
        plugins if isinstance(plugins, (list, tuple)) else ([] if plugins is None else [plugins])
    )
    given = [p for p in plugin_list if isinstance(p, Precision)]
    unknown = [p for p in plugin_list if not isinstance(p, Precision)]
    if unknown:
        raise MisconfigurationException(
            f"Unsupported `plugins`: {unknown!r}. The reference trainer accepts Precision plugins"
            " only."
        )
    if len(given) > 1:
        raise MisconfigurationException(f"Received multiple precision plugins: {given!r}")
    return given[0] if given else None


def precision_plugin_for(name: str, accelerator: Accelerator, device: torch.device) -> Precision:
    """The plugin that runs ``name`` on ``accelerator`` (facts §5)."""
    if isinstance(accelerator, XLAAccelerator):
        return XLAPrecision(name)  # 32-true, 16-true, bf16-true; a clear error otherwise
    if name == "32-true":
        return Precision()
    if name == "64-true":
        if device.type == "mps":
            raise MisconfigurationException(
                "`precision='64-true'` is not possible on MPS: MPS has no float64. Use"
                f" one of {_choices(p for p in precision.PRECISIONS if p != '64-true')}."
            )
        return DoublePrecision()
    if name in ("16-true", "bf16-true"):
        return HalfPrecision(name)
    if name == "16-mixed" and device.type == "cpu":
        warn(
            "You passed `Trainer(accelerator='cpu', precision='16-mixed')` but AMP with fp16 is"
            " not supported on CPU. Using `precision='bf16-mixed'` instead.",
            stacklevel=6,  # the user's Trainer(...) call
        )
        name = "bf16-mixed"
    info(f"Using {'16bit' if name == '16-mixed' else 'bfloat16'} Automatic Mixed Precision (AMP)")
    return MixedPrecision(name, device.type)


def resolve_precision(
    flag: Any, name: str | None, plugins: Any, accelerator: Accelerator, device: torch.device
) -> Precision:
    """The precision plugin: the one in ``plugins``, else the one for the value ``name``."""
    given = _given_plugin(plugins)
    if given is not None:
        if name is not None:
            raise ValueError(
                f"Received both `precision={flag!r}` and `plugins={given!r}`. Choose one."
            )
        return given
    return precision_plugin_for(name or "32-true", accelerator, device)


# ------------------------------------------------------------------------------------- strategy
def resolve_strategy(
    flag: str | Strategy,
    accelerator: Accelerator,
    devices: list[torch.device],
    precision_plugin: Precision,
) -> Strategy:
    if isinstance(flag, Strategy):
        if flag.accelerator is None:
            flag.accelerator = accelerator
        flag.precision_plugin = precision_plugin
        return flag
    if not isinstance(flag, str):
        raise TypeError(f"`strategy` should be a string or a `Strategy`, got {flag!r}")
    name = flag.lower()
    if name == "auto":
        name = "single_device"
    cls = strategies.STRATEGIES.get(name)
    if cls is None:
        supported = ["auto", *strategies.STRATEGIES]
        if name in strategies.KNOWN_UNSUPPORTED:
            raise MisconfigurationException(
                f"`strategy={flag!r}` is not supported by the reference trainer yet. Supported:"
                f" {_choices(supported)}."
            )
        raise ValueError(
            f"You selected an invalid strategy name: `strategy={flag!r}`. Supported:"
            f" {_choices(supported)}."
        )
    if issubclass(cls, SingleDeviceStrategy):
        # one XLA device needs the XLA flavour (graph syncs, tied weights), whatever was named
        if devices[0].type == "xla":
            cls = SingleDeviceXLAStrategy
        elif cls is SingleDeviceXLAStrategy:
            raise MisconfigurationException(
                f"`strategy={flag!r}` needs an XLA device (accelerator='tpu'), got {devices[0]}."
            )
        return cls(devices[0], accelerator=accelerator, precision_plugin=precision_plugin)
    return cls(accelerator=accelerator, precision_plugin=precision_plugin)  # type: ignore[call-arg]


def build_strategy(
    accelerator: Any, devices: Any, strategy: Any, precision_flag: Any, plugins: Any, num_nodes: Any
) -> Strategy:
    """The strategy for a Trainer, with its accelerator and precision plugin attached."""
    if num_nodes != 1:
        raise MisconfigurationException(
            f"`num_nodes={num_nodes!r}` is not supported: the reference trainer runs on one node"
            " (num_nodes=1)."
        )
    name = canonical_precision(precision_flag)  # a bad value fails before hardware is probed
    accelerator_obj = resolve_accelerator(accelerator)
    device_list = resolve_devices(devices, accelerator_obj)
    precision_plugin = resolve_precision(
        precision_flag, name, plugins, accelerator_obj, device_list[0]
    )
    return resolve_strategy(strategy, accelerator_obj, device_list, precision_plugin)
