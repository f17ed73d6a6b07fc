"""Strategies: how a run is laid out over devices. The reference has the single-device one."""

from reference.strategies.single_device import SingleDeviceStrategy
from reference.strategies.strategy import Strategy

# Names accepted for Trainer(strategy=...). The devices issue adds e.g. "ddp".
STRATEGIES: dict[str, type[Strategy]] = {"single_device": SingleDeviceStrategy}
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

__all__ = ["KNOWN_UNSUPPORTED", "STRATEGIES", "SingleDeviceStrategy", "Strategy"]
