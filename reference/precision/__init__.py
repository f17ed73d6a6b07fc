"""Precision plugins and the values of ``Trainer(precision=...)`` the reference supports."""

from reference.precision.precision import Precision

# canonical name -> plugin class. The precision issue adds "16-mixed", "bf16-mixed", "64-true", ...
PRECISIONS: dict[str, type[Precision]] = {"32-true": Precision}
# Lightning's spellings of the same settings (legacy ints and short strings).
ALIASES: dict[object, str] = {
    32: "32-true",
    "32": "32-true",
    64: "64-true",
    "64": "64-true",
    16: "16-mixed",
    "16": "16-mixed",
    "bf16": "bf16-mixed",
}
# Values Lightning accepts that the reference does not implement (yet); named in error messages.
KNOWN_UNSUPPORTED: tuple[str, ...] = (
    "64-true",
    "16-true",
    "bf16-true",
    "16-mixed",
    "bf16-mixed",
    "transformer-engine",
    "transformer-engine-float16",
)

__all__ = ["ALIASES", "KNOWN_UNSUPPORTED", "PRECISIONS", "Precision"]
