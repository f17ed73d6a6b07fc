"""Remember and restore the train/eval mode of every submodule (Lightning >= 2.2, facts §2.7)."""

from __future__ import annotations

from torch import nn


class ModuleMode:
    """``capture`` before evaluation, ``restore`` after it: frozen (eval) submodules stay in
    eval.
    """

    def __init__(self) -> None:
        self.mode: dict[str, bool] = {}

    def capture(self, module: nn.Module) -> None:
        self.mode = {name: sub.training for name, sub in module.named_modules()}

    def restore(self, module: nn.Module) -> None:
        # set the flags directly: calling .train() would visit (and record) every submodule
        for name, sub in module.named_modules():
            if name in self.mode:
                sub.training = self.mode[name]
