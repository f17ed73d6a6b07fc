"""Precision plugins and the values of ``Trainer(precision=...)`` the reference supports.

Which plugin a value selects depends on the accelerator (``16-mixed`` falls back to ``bf16-mixed``
on the CPU, XLA has its own plugin); :mod:`reference.trainer.connector` makes that choice.
"""

from reference.precision.amp import MixedPrecision
from reference.precision.double import DoublePrecision
from reference.precision.half import HalfPrecision
from reference.precision.precision import Precision
from reference.precision.xla import XLAPrecision

# The Lightning 2.x values, in the order error messages list them.
PRECISIONS: tuple[str, ...] = (
    "64-true",
    "32-true",
    "16-mixed",
    "bf16-mixed",
    "16-true",
    "bf16-true",
)
# Lightning's older spellings of the same settings (legacy ints and short strings).
ALIASES: dict[object, str] = {
    64: "64-true",
    "64": "64-true",
    32: "32-true",
    "32": "32-true",
    16: "16-mixed",
    "16": "16-mixed",
    "bf16": "bf16-mixed",
}
# Aliases that also warn: they once meant something else (16 was apex/native AMP), so Lightning
# asks for the explicit value.
DISCOURAGED_ALIASES: tuple[object, ...] = (16, "16", "bf16")
# Values Lightning accepts that the reference does not implement; named in error messages.
KNOWN_UNSUPPORTED: tuple[str, ...] = ("transformer-engine", "transformer-engine-float16")

__all__ = [
    "ALIASES",
    "DISCOURAGED_ALIASES",
    "DoublePrecision",
    "HalfPrecision",
    "KNOWN_UNSUPPORTED",
    "MixedPrecision",
    "PRECISIONS",
    "Precision",
    "XLAPrecision",
]
