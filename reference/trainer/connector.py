"""Turn the hardware flags (``accelerator``, ``devices``, ``strategy``, ``precision``, ``plugins``,
``num_nodes``) into objects.

Only what the reference implements is accepted; every other value gets an error that lists the
supported values. The registries live next to the plug-ins (``reference.accelerators``,
``reference.precision``, ``reference.strategies``) so new hardware only has to register there.
"""

from __future__ import annotations

from typing import Any

from reference import accelerators, precision, strategies
from reference.accelerators.accelerator import Accelerator
from reference.precision.precision import Precision
from reference.strategies.single_device import SingleDeviceStrategy
from reference.strategies.strategy import Strategy
from reference.utilities.exceptions import MisconfigurationException


def _choices(names: Any) -> str:
    return ", ".join(repr(n) for n in names)


def resolve_accelerator(flag: str | Accelerator) -> Accelerator:
    if isinstance(flag, Accelerator):
        return flag
    if not isinstance(flag, str):
        raise TypeError(f"`accelerator` should be a string or an `Accelerator`, got {flag!r}")
    name = flag.lower()
    if name == "auto":
        for candidate in accelerators.AUTO_PRIORITY:
            cls = accelerators.ACCELERATORS[candidate]
            if cls.is_available():
                return cls()
        raise MisconfigurationException("No accelerator is available")  # unreachable: CPU always is
    cls = accelerators.ACCELERATORS.get(name)
    if cls is None:
        supported = ["auto", *accelerators.ACCELERATORS]
        if name in accelerators.KNOWN_UNSUPPORTED:
            raise MisconfigurationException(
                f"`accelerator={flag!r}` is not supported by the reference trainer yet. Supported:"
                f" {_choices(supported)}."
            )
        raise ValueError(
            f"You selected an invalid accelerator name: `accelerator={flag!r}`. Available names"
            f" are: {_choices(supported)}."
        )
    if not cls.is_available():
        raise MisconfigurationException(f"`accelerator={flag!r}` is not available on this machine.")
    return cls()


def resolve_devices(flag: Any, accelerator: Accelerator) -> list[Any]:
    """The device list; the reference runs on exactly one device."""
    parsed = accelerator.parse_devices(flag)
    devices = accelerator.get_parallel_devices(parsed)
    if len(devices) != 1:
        raise MisconfigurationException(
            f"`devices={flag!r}` asks for {len(devices)} devices, but the reference trainer runs"
            " on a single device. Supported: devices=1, '1' or 'auto'."
        )
    return devices


def resolve_precision(flag: Any, plugins: Any) -> Precision:
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
    if given:
        if flag is not None:
            raise ValueError(
                f"Received both `precision={flag!r}` and `plugins={given[0]!r}`. Choose one."
            )
        return given[0]
    if flag is None:
        return Precision()
    name = precision.ALIASES.get(flag, flag)
    cls = precision.PRECISIONS.get(name) if isinstance(name, str) else None
    if cls is None:
        supported = [*precision.PRECISIONS] + [
            k for k, v in precision.ALIASES.items() if v in precision.PRECISIONS
        ]
        if name in precision.KNOWN_UNSUPPORTED:
            raise MisconfigurationException(
                f"`precision={flag!r}` is not supported by the reference trainer yet. Supported:"
                f" {_choices(supported)}."
            )
        raise ValueError(
            f"Precision {flag!r} is invalid. Allowed precision values: {_choices(supported)}."
        )
    return cls()


def resolve_strategy(
    flag: str | Strategy, accelerator: Accelerator, devices: list[Any], precision_plugin: Precision
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
    if cls is SingleDeviceStrategy:
        return SingleDeviceStrategy(
            devices[0], accelerator=accelerator, precision_plugin=precision_plugin
        )
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
    accelerator_obj = resolve_accelerator(accelerator)
    device_list = resolve_devices(devices, accelerator_obj)
    precision_plugin = resolve_precision(precision_flag, plugins)
    return resolve_strategy(strategy, accelerator_obj, device_list, precision_plugin)
