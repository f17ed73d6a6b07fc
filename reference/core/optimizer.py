"""``LightningOptimizer``: the optimizer a LightningModule sees through ``self.optimizers()``.

It is the user's optimizer with one difference: ``step`` goes through the strategy and its
precision plugin, so that ``on_before_optimizer_step`` (and, with AMP, scaling) happens around
the real update, and manual optimization can count steps for ``global_step``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import contextmanager
from typing import Any

from torch.optim import Optimizer

from reference.utilities.exceptions import MisconfigurationException


def _do_nothing_closure() -> None:
    return None


def _no_op() -> None:
    return None


class LightningOptimizer:
    """Wraps an optimizer; ``isinstance(wrapper, type(optimizer))`` still holds."""

    def __init__(self, optimizer: Optimizer) -> None:
        # share the wrapped optimizer's state (param_groups, state, defaults) instead of copying it
        self.__dict__ = {
            k: v for k, v in optimizer.__dict__.items() if k not in ("step", "__del__")
        }
        self._optimizer = optimizer
        self._strategy: Any = None
        # the manual-optimization loop installs its step counters here
        self._on_before_step: Callable[[], None] = _no_op
        self._on_after_step: Callable[[], None] = _no_op
        # a subclass of both, so isinstance checks against the user's optimizer class keep working
        self.__class__ = type(
            "Lightning" + type(optimizer).__name__, (self.__class__, type(optimizer)), {}
        )

    @property
    def optimizer(self) -> Optimizer:
        return self._optimizer

    @classmethod
    def wrap(cls, optimizer: Optimizer | LightningOptimizer, strategy: Any) -> LightningOptimizer:
        wrapped = optimizer if isinstance(optimizer, LightningOptimizer) else cls(optimizer)
        wrapped._strategy = strategy
        return wrapped

    @contextmanager
    def toggle_model(self, sync_grad: bool = True) -> Generator[None, None, None]:
        """Only this optimizer's parameters require grad inside the block (multi-optimizer
        training).
        """
        module = self._strategy.lightning_module
        module.toggle_optimizer(self)
        try:
            yield
        finally:
            module.untoggle_optimizer(self)

    def step(self, closure: Callable[[], Any] | None = None, **kwargs: Any) -> Any:
        """Run ``closure`` (if any) and the parameter update through the strategy."""
        self._on_before_step()
        if closure is None:
            closure = _do_nothing_closure
        elif not callable(closure):
            raise MisconfigurationException(
                "When `optimizer.step(closure)` is called, the closure should be callable"
            )
        output = self._strategy.optimizer_step(self._optimizer, closure, **kwargs)
        self._on_after_step()
        return output

    def zero_grad(self, set_to_none: bool = True) -> None:
        self._optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return self._optimizer.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._optimizer.load_state_dict(state_dict)

    def __getattr__(self, name: str) -> Any:
        # anything not copied at wrap time (e.g. attributes added later) comes from the optimizer
        return getattr(self.__dict__["_optimizer"], name)

    def __repr__(self) -> str:
        return f"LightningOptimizer({self._optimizer!r})"
