"""Strategies: how a run is laid out over devices. The reference runs on one device."""

from reference.strategies.single_device import SingleDeviceStrategy
from reference.strategies.single_xla import SingleDeviceXLAStrategy
from reference.strategies.strategy import Strategy

# Names accepted for Trainer(strategy=...). "auto" picks one of these from the accelerator.
STRATEGIES: dict[str, type[Strategy]] = {
    "single_device": SingleDeviceStrategy,
    "single_xla": SingleDeviceXLAStrategy,
}
# Names Lightning accepts that the reference does not implement (yet); named in error messages.
KNOWN_UNSUPPORTED: tuple[str, ...] = (
    "ddp",
    "ddp_spawn",
    "ddp_fork",
    "ddp_notebook",
    "fsdp",
    "deepspeed",
    "xla",
    "dp",
)

__all__ = [
    "KNOWN_UNSUPPORTED",
    "STRATEGIES",
    "SingleDeviceStrategy",
    "SingleDeviceXLAStrategy",
    "Strategy",
]
