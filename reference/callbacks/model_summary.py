"""``ModelSummary``: a short table of the model's top-level layers, printed when fit starts."""

from __future__ import annotations

from typing import Any

from torch import nn

from reference.callbacks.callback import Callback


def _count(module: nn.Module, trainable: bool | None = None) -> int:
    return sum(
        p.numel() for p in module.parameters() if trainable is None or p.requires_grad == trainable
    )


def _human(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return str(n)


def summarize(model: nn.Module, max_depth: int = 1) -> str:
    """A text table with one row per submodule up to ``max_depth`` levels deep, then totals."""
    rows = [("", "Name", "Type", "Params", "Mode")]
    if max_depth != 0:
        for index, (name, module) in enumerate(
            (n, m)
            for n, m in model.named_modules()
            if n and (max_depth < 0 or n.count(".") < max_depth)
        ):
            rows.append(
                (
                    str(index),
                    name,
                    type(module).__name__,
                    _human(_count(module)),
                    "train" if module.training else "eval",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows]
    rule = "-" * len(lines[0])
    trainable, total = _count(model, True), _count(model)
    size_mb = sum(p.numel() * p.element_size() for p in model.parameters()) / 1e6
    footer = [
        f"{_human(trainable):<10} Trainable params",
        f"{_human(total - trainable):<10} Non-trainable params",
        f"{_human(total):<10} Total params",
        f"{size_mb:<10.3f} Total estimated model params size (MB)",
    ]
    table = [rule, lines[0], rule, *lines[1:], rule] if len(lines) > 1 else []
    return "\n".join([*table, *footer])


class ModelSummary(Callback):
    """Print :func:`summarize` of the LightningModule at the start of fit (rank 0 only)."""

    def __init__(self, max_depth: int = 1, **summarize_kwargs: Any) -> None:
        super().__init__()
        self._max_depth = max_depth
        self._summarize_kwargs = summarize_kwargs

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if self._max_depth and trainer.is_global_zero:
            print(summarize(pl_module, self._max_depth))
