"""Process-global state a target can leave changed, captured before a clause and restored after.

A trainer under test runs in the same process as every other clause. If it leaves grad mode off,
inference mode on, float64 as the default dtype, the RNGs reseeded (``seed_everything``), the
working directory moved or environment variables set (``PL_GLOBAL_SEED``...), the clauses that
follow would observe *its* leftovers. The plugin captures this state before each clause and
restores it afterwards, so one misbehaving target breaks only the clause that ran it.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Any

import torch

# Guards that switch off an inference mode a target entered and never left. An inference-mode
# guard is a C++ RAII object that only its owner can exit; a nested "off" guard restores the
# thread's state, and it must stay alive for as long as the leaked guard might.
_INFERENCE_MODE_OFF_GUARDS: list[Any] = []
_PYTEST_ENV = "PYTEST_"


def _numpy_random() -> Any | None:
    try:
        import numpy
    except ImportError:  # numpy is optional for the suite
        return None
    return numpy.random


@dataclass
class GlobalState:
    """A snapshot of the global state a training loop can change."""

    grad_enabled: bool
    inference_mode: bool
    default_dtype: torch.dtype
    default_device: Any
    deterministic: tuple[bool, bool]
    anomaly: bool
    matmul_precision: str
    num_threads: int
    cudnn: tuple[bool, bool]
    torch_rng: torch.Tensor
    cuda_rng: list[torch.Tensor] | None
    python_rng: tuple[Any, ...]
    numpy_rng: Any
    cwd: str
    environ: dict[str, str]

    @classmethod
    def capture(cls) -> GlobalState:
        numpy_random = _numpy_random()
        cuda_rng = None
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            cuda_rng = torch.cuda.get_rng_state_all()
        return cls(
            grad_enabled=torch.is_grad_enabled(),
            inference_mode=torch.is_inference_mode_enabled(),
            default_dtype=torch.get_default_dtype(),
            default_device=torch.get_default_device(),
            deterministic=(
                torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled(),
            ),
            anomaly=torch.is_anomaly_enabled(),
            matmul_precision=torch.get_float32_matmul_precision(),
            num_threads=torch.get_num_threads(),
            cudnn=(torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic),
            torch_rng=torch.get_rng_state(),
            cuda_rng=cuda_rng,
            python_rng=random.getstate(),
            numpy_rng=numpy_random.get_state() if numpy_random is not None else None,
            cwd=os.getcwd(),
            environ=dict(os.environ),
        )

    def restore(self) -> list[str]:
        """Put everything back; return what had changed, RNGs aside (every run draws from them)."""
        changed: list[str] = []
        # Read before touching inference mode: leaving it also switches grad mode back on.
        grad_changed = torch.is_grad_enabled() != self.grad_enabled
        if torch.is_inference_mode_enabled() != self.inference_mode:
            changed.append("inference mode")
            if not self.inference_mode:
                _INFERENCE_MODE_OFF_GUARDS.append(torch._C._InferenceMode(False))
        if grad_changed:
            changed.append("grad mode")
        torch.set_grad_enabled(self.grad_enabled)
        if torch.get_default_dtype() != self.default_dtype:
            changed.append("default dtype")
            torch.set_default_dtype(self.default_dtype)
        if torch.get_default_device() != self.default_device:
            changed.append("default device")
            torch.set_default_device(self.default_device)
        deterministic = (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
        )
        if deterministic != self.deterministic:
            changed.append("deterministic algorithms")
            enabled, warn_only = self.deterministic
            torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
        if torch.is_anomaly_enabled() != self.anomaly:
            changed.append("anomaly detection")
            torch.set_anomaly_enabled(self.anomaly)
        if torch.get_float32_matmul_precision() != self.matmul_precision:
            changed.append("float32 matmul precision")
            torch.set_float32_matmul_precision(self.matmul_precision)
        if torch.get_num_threads() != self.num_threads:
            changed.append("torch threads")
            torch.set_num_threads(self.num_threads)
        if (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic) != self.cudnn:
            changed.append("cudnn flags")
            torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = self.cudnn
        self._restore_rngs()
        if os.getcwd() != self.cwd:
            changed.append("working directory")
            os.chdir(self.cwd)
        changed += self._restore_environ()
        return changed

    def _restore_rngs(self) -> None:
        # Restored unconditionally and not reported: every training run draws from them.
        torch.set_rng_state(self.torch_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)
        random.setstate(self.python_rng)
        numpy_random = _numpy_random()
        if numpy_random is not None and self.numpy_rng is not None:
            numpy_random.set_state(self.numpy_rng)

    def _restore_environ(self) -> list[str]:
        changed = []
        for name in list(os.environ):
            if name.startswith(_PYTEST_ENV):
                continue  # pytest's own per-phase variables (PYTEST_CURRENT_TEST)
            if name not in self.environ:
                changed.append(f"env {name}")
                del os.environ[name]
        for name, value in self.environ.items():
            if name.startswith(_PYTEST_ENV):
                continue
            if os.environ.get(name) != value:
                changed.append(f"env {name}")
                os.environ[name] = value
        return changed
