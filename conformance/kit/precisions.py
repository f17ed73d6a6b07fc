"""What each precision setting means, as observed in Lightning 2.6 (facts §5).

One row per precision value: the dtype the parameters are kept in, the dtype floating-point
inputs reach the step in (from a float32 loader), the dtype a ``Linear`` computes in inside a step,
whether the step runs under ``torch.autocast`` (and with which dtype), the default dtype inside a
step, and whether a GradScaler scales the loss. ``16-mixed`` on CPU is looked up as ``bf16-mixed``
because that is what Lightning runs there (see :func:`conformance.matrix.effective_precision`).
The rows are the same on every device, XLA included (see :func:`semantics`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from conformance.matrix import effective_precision


@dataclass(frozen=True)
class PrecisionSemantics:
    precision: str
    param_dtype: torch.dtype
    input_dtype: torch.dtype
    compute_dtype: torch.dtype
    autocast_dtype: torch.dtype | None
    default_dtype_in_step: torch.dtype
    uses_scaler: bool

    @property
    def mixed(self) -> bool:
        return self.autocast_dtype is not None


def _true(precision: str, dtype: torch.dtype) -> PrecisionSemantics:
    # "-true": module cast to dtype, float inputs cast, default dtype switched inside the step.
    return PrecisionSemantics(precision, dtype, dtype, dtype, None, dtype, False)


def _mixed(precision: str, dtype: torch.dtype, uses_scaler: bool) -> PrecisionSemantics:
    # "-mixed": float32 weights and inputs, the step under autocast(dtype).
    f32 = torch.float32
    return PrecisionSemantics(precision, f32, f32, dtype, dtype, f32, uses_scaler)


SEMANTICS: dict[str, PrecisionSemantics] = {
    "64-true": _true("64-true", torch.float64),
    "32-true": _true("32-true", torch.float32),
    "16-true": _true("16-true", torch.float16),
    "bf16-true": _true("bf16-true", torch.bfloat16),
    "16-mixed": _mixed("16-mixed", torch.float16, uses_scaler=True),
    "bf16-mixed": _mixed("bf16-mixed", torch.bfloat16, uses_scaler=False),
}


def semantics(device: str, precision: str) -> PrecisionSemantics:
    """The expected behaviour of ``precision`` on ``device``.

    The same on every device, XLA included: ``16-true``/``bf16-true`` mean half-precision weights
    and inputs as PyTorch sees them. (Lightning implements them on XLA with the ``XLA_USE_F16``/
    ``XLA_USE_BF16`` compiler flags instead, which torch_xla 2.9 no longer honours reliably —
    ``docs/xla.md``; that is a declared Lightning deviation, not a weaker clause.)
    """
    return SEMANTICS[effective_precision(device, precision)]
