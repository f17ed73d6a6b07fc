"""``SingleDeviceXLAStrategy``: one XLA device (a TPU core, or torch_xla's CPU backend).

XLA tensors are lazy: operations record a graph that runs when a result is needed or at a sync.
The precision plugin syncs after every optimizer step; this strategy also syncs after every
evaluation and prediction step, so that an epoch does not grow one ever larger graph.
"""

from __future__ import annotations

from typing import Any

from torch.nn import Module

from reference.accelerators.xla import sync
from reference.strategies.single_device import SingleDeviceStrategy


def _tied_parameter_names(module: Module) -> list[list[str]]:
    """Groups of names under which one parameter object is registered (tied weights)."""
    names: dict[int, list[str]] = {}
    for name, param in module.named_parameters(remove_duplicate=False):
        names.setdefault(id(param), []).append(name)
    return [group for group in names.values() if len(group) > 1]


def _retie(module: Module, groups: list[list[str]]) -> None:
    for first, *others in groups:
        param = module.get_parameter(first)
        for name in others:
            owner, _, attribute = name.rpartition(".")
            setattr(module.get_submodule(owner), attribute, param)


class SingleDeviceXLAStrategy(SingleDeviceStrategy):
    strategy_name = "single_xla"
    # inference tensors cannot be XLA tensors' version counters ("Cannot set version_counter
    # for inference tensor"); Lightning evaluates under no_grad on XLA too
    supports_inference_mode = False

    def model_to_device(self) -> None:
        # Moving to or from XLA makes new Parameter objects (CPU and XLA tensors cannot share an
        # implementation), one per registration: tied weights would come apart. Tie them again.
        groups = _tied_parameter_names(self.model)
        self.model.to(self.root_device)
        _retie(self.model, groups)

    def teardown(self) -> None:
        module = self.lightning_module
        groups = _tied_parameter_names(module) if module is not None else []
        super().teardown()  # moves the model back to the CPU
        if module is not None:
            _retie(module, groups)

    def validation_step(self, *args: Any) -> Any:
        output = super().validation_step(*args)
        sync()
        return output

    def test_step(self, *args: Any) -> Any:
        output = super().test_step(*args)
        sync()
        return output

    def predict_step(self, *args: Any) -> Any:
        output = super().predict_step(*args)
        sync()
        return output
