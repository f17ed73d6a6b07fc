"""Snapshots of the real state a clause observes: the autograd mode and the modules' modes.

Clauses check what the trainer *did* (the autograd mode a step ran under, which submodules were in
training mode, how parameters moved), not which hook names were called.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class GradMode:
    """The autograd mode in force at one moment."""

    grad_enabled: bool
    inference_mode: bool

    def describe(self) -> str:
        if self.inference_mode:
            return "inference_mode"
        return "grad enabled" if self.grad_enabled else "no_grad"


def grad_mode() -> GradMode:
    """The current autograd mode (``inference_mode`` also disables grad)."""
    return GradMode(torch.is_grad_enabled(), torch.is_inference_mode_enabled())


def module_modes(module: torch.nn.Module) -> dict[str, bool]:
    """``{qualified name: module.training}`` for the module ("" is the root) and every submodule."""
    return {name: sub.training for name, sub in module.named_modules()}
