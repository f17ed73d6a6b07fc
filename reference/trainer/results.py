"""Storage for ``self.log`` values: step values, epoch reductions, and the three metric views.

Hot-path design: a call to ``self.log`` stores the value (a detached copy) and, when an epoch
reduction is wanted, appends it to a pending list. Pending values are reduced with one stacked
tensor operation every :data:`_FLUSH_EVERY` calls and when the epoch value is read, so no
per-call tensor arithmetic and no host synchronisation happen while training.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from reference.utilities.exceptions import MisconfigurationException

_FLUSH_EVERY = 64
_DATALOADER_SUFFIX = "/dataloader_idx_{}"


@dataclass(frozen=True)
class MetricMeta:
    """How one logged key behaves; logging the same key with other settings is an error."""

    fx: str
    name: str
    prog_bar: bool
    logger: bool
    on_step: bool
    on_epoch: bool
    reduce: str
    enable_graph: bool
    add_dataloader_idx: bool
    dataloader_idx: int | None

    def names(self, on_step: bool) -> tuple[str, str]:
        """``(name, forked_name)``: ``loss`` and ``loss_step``/``loss_epoch`` when logged at
        both.
        """
        name = self.name
        forked = (
            f"{name}_{'step' if on_step else 'epoch'}" if self.on_step and self.on_epoch else name
        )
        if self.add_dataloader_idx and self.dataloader_idx is not None:
            suffix = _DATALOADER_SUFFIX.format(self.dataloader_idx)
            name, forked = name + suffix, forked + suffix
        return name, forked


class LoggedMetric:
    """One logged key: its latest step value and its running epoch reduction.

    A logged ``torchmetrics.Metric`` reduces itself: its step value is the result of its last
    forward call, its epoch value ``compute()``, and it is ``reset()`` with the epoch.
    """

    __slots__ = (
        "meta",
        "metric_object",
        "step_value",
        "updated",
        "_pending",
        "_weights",
        "_total",
        "_count",
        "_computed",
    )

    def __init__(self, meta: MetricMeta) -> None:
        self.meta = meta
        self.metric_object: Any = None
        self.step_value: Tensor | None = None
        self.updated = False  # False after a reset until the key is logged again
        self._pending: list[Tensor] = []
        self._weights: list[int] = []
        self._total: Tensor | None = None
        self._count = 0
        self._computed: Tensor | None = None

    def update(self, value: Tensor, batch_size: int) -> None:
        self.updated = True
        if not isinstance(value, Tensor):  # a Metric object
            self.metric_object, self._computed = value, None
            self.step_value = value._forward_cache
            return
        if self.meta.on_step:
            self.step_value = value
        if self.meta.on_epoch:
            self._computed = None
            self._pending.append(value)
            self._weights.append(batch_size)
            if len(self._pending) >= _FLUSH_EVERY:
                self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        values = torch.stack(self._pending)
        reduce = self.meta.reduce
        if reduce == "mean":
            weights = self._weights
            if all(w == weights[0] for w in weights):
                part = values.sum() * weights[0]
            else:
                part = (
                    values * torch.tensor(weights, dtype=values.dtype, device=values.device)
                ).sum()
            self._count += sum(weights)
        elif reduce == "sum":
            part = values.sum()
        elif reduce == "max":
            part = values.max()
        else:
            part = values.min()
        if self._total is None:
            self._total = part
        elif reduce in ("mean", "sum"):
            self._total = self._total + part
        elif reduce == "max":
            self._total = torch.maximum(self._total, part)
        else:
            self._total = torch.minimum(self._total, part)
        self._pending, self._weights = [], []

    def epoch_value(self) -> Tensor | None:
        """The reduction over every value logged since the last reset (cached until the next
        log).
        """
        if self._computed is None and self.metric_object is not None:
            self._computed = self.metric_object.compute()
        if self._computed is None:
            self._flush()
            if self._total is None:
                return None
            self._computed = (
                self._total / self._count if self.meta.reduce == "mean" else self._total
            )
        return self._computed

    def reset(self) -> None:
        if self.metric_object is not None:
            self.metric_object.reset()
        self.updated = False
        self.step_value = None
        self._pending, self._weights = [], []
        self._total, self._count, self._computed = None, 0, None


class ResultCollection(dict):
    """All keys logged in one loop (training, or one evaluation loop), by ``fx.name[.dl_idx]``."""

    def __init__(self, training: bool) -> None:
        super().__init__()
        self.training = training
        self.batch: Any = None  # the batch being processed, to infer batch sizes lazily
        self.batch_size: int | None = None
        self.dataloader_idx: int | None = None

    def log(
        self,
        fx: str,
        name: str,
        value: Tensor,
        *,
        prog_bar: bool,
        logger: bool,
        on_step: bool,
        on_epoch: bool,
        reduce: str,
        enable_graph: bool,
        add_dataloader_idx: bool,
        batch_size: int | None,
    ) -> None:
        dataloader_idx = self.dataloader_idx
        key = (fx, name, dataloader_idx if add_dataloader_idx else None)
        metric = self.get(key)
        if metric is None:
            if not on_step and not on_epoch:
                raise MisconfigurationException(
                    "`self.log(on_step=False, on_epoch=False)` is not useful."
                )
            meta = MetricMeta(
                fx,
                name,
                prog_bar,
                logger,
                on_step,
                on_epoch,
                reduce,
                enable_graph,
                add_dataloader_idx,
                dataloader_idx,
            )
            metric = self[key] = LoggedMetric(meta)
        else:
            meta = metric.meta
            if (
                meta.prog_bar,
                meta.logger,
                meta.on_step,
                meta.on_epoch,
                meta.reduce,
                meta.enable_graph,
                meta.dataloader_idx,
            ) != (prog_bar, logger, on_step, on_epoch, reduce, enable_graph, dataloader_idx):
                raise MisconfigurationException(
                    f"You called `self.log({name}, ...)` twice in `{fx}` with different arguments."
                    " This is not allowed"
                )
        if on_epoch and batch_size is None and reduce == "mean" and isinstance(value, Tensor):
            batch_size = self._batch_size()
        metric.update(value, batch_size or 1)

    def _batch_size(self) -> int:
        if self.batch_size is None:
            self.batch_size = extract_batch_size(self.batch) if self.batch is not None else 1
        return self.batch_size

    def metrics(
        self, on_step: bool
    ) -> tuple[dict[str, Tensor], dict[str, Tensor], dict[str, Tensor]]:
        """``(callback, log, progress_bar)`` views of the keys valid now.

        ``on_step`` selects step values (while a batch loop runs) or epoch reductions (after it).
        Step values of evaluation loops are not callback metrics (Lightning's rule).
        """
        callback: dict[str, Tensor] = {}
        log: dict[str, Tensor] = {}
        pbar: dict[str, Tensor] = {}
        for metric in self.values():
            meta = metric.meta
            if not metric.updated or meta.dataloader_idx != self.dataloader_idx:
                continue
            if on_step:
                if not meta.on_step:
                    continue
                value = metric.step_value
            else:
                if not meta.on_epoch:
                    continue
                value = metric.epoch_value()
            if value is None:
                continue
            name, forked = meta.names(on_step)
            if meta.logger:
                log[forked] = value
            if self.training or not on_step:
                callback[name] = value
                callback[forked] = value
            if meta.prog_bar:
                pbar[forked] = value
        return callback, log, pbar

    def reset(self) -> None:
        for metric in self.values():
            metric.reset()


def extract_batch_size(batch: Any) -> int:
    """The size of the first dimension of the first tensor found in ``batch``."""
    sizes = list(_batch_sizes(batch))
    if not sizes:
        raise MisconfigurationException(
            "We could not infer the batch_size from the batch. Either simplify its structure or"
            " provide the batch_size as `self.log(..., batch_size=batch_size)`."
        )
    if any(size != sizes[0] for size in sizes[1:]):
        warnings.warn(
            "Trying to infer the `batch_size` from an ambiguous collection. The batch size we"
            f" found is {sizes[0]}. To avoid any miscalculations, use `self.log(...,"
            " batch_size=batch_size)`.",
            stacklevel=5,
        )
    return sizes[0]


def _batch_sizes(batch: Any) -> Any:
    if isinstance(batch, Tensor):
        yield 1 if batch.ndim == 0 else batch.size(0)
    elif isinstance(batch, (str, bytes)):
        yield len(batch)
    elif isinstance(batch, Mapping):
        for value in batch.values():
            yield from _batch_sizes(value)
    elif isinstance(batch, (list, tuple)):
        for value in batch:
            yield from _batch_sizes(value)
