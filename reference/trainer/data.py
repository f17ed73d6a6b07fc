"""Where batches come from: dataloader sources, batch limits, and the iterators the loops use.

* A :class:`DataSource` is either dataloaders passed to ``fit``/``validate``/... or a
  ``*_dataloader`` hook of the LightningModule or LightningDataModule (called when needed).
* A "dataloader" may be any iterable; a list/tuple/dict of them is a collection. Training
  zips a collection into one batch per step, cycling shorter ones ("max_size_cycle");
  evaluation runs them one after the other with a ``dataloader_idx`` ("sequential").
* Limits (``limit_*_batches``) apply per dataloader: an int is a count, a float a fraction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from reference.datamodule import LightningDataModule
from reference.module import LightningModule
from reference.utilities.exceptions import MisconfigurationException
from reference.utilities.signature import is_overridden
from reference.utilities.warnings import warn

_END = object()


class DataSource:
    """The dataloaders of one stage, or the object whose ``<name>()`` hook returns them."""

    def __init__(self, instance: Any, name: str) -> None:
        self.instance = instance
        self.name = name  # e.g. "train_dataloader"

    def is_module(self) -> bool:
        return isinstance(self.instance, (LightningModule, LightningDataModule))

    def is_defined(self) -> bool:
        """Whether dataloaders were passed, or the hook providing them is overridden."""
        if self.instance is None:
            return False
        if not self.is_module():
            return True
        parent = (
            LightningModule if isinstance(self.instance, LightningModule) else LightningDataModule
        )
        return is_overridden(self.name, self.instance, parent)

    def request(self, trainer: Any) -> Any:
        """Call the hook (through the dispatcher, so it is traced like any hook), or return
        the dataloaders that were passed in.
        """
        if isinstance(self.instance, LightningModule):
            return trainer._hooks.module(self.name)
        if self.is_module():
            return trainer._hooks.datamodule(self.name)
        return self.instance


def flatten(dataloaders: Any) -> list[Any]:
    """The individual iterables of a dataloader collection, in order; collections may nest
    (``{"a": [dl1, dl2], "b": dl3}``), as Lightning's ``CombinedLoader`` allows."""
    if isinstance(dataloaders, Mapping):
        return [leaf for value in dataloaders.values() for leaf in flatten(value)]
    if isinstance(dataloaders, (list, tuple)):
        return [leaf for value in dataloaders for leaf in flatten(value)]
    return [dataloaders]


def unflatten(structure: Any, leaves: Iterator[Any]) -> Any:
    """``structure`` (a collection as :func:`flatten` reads it) with each dataloader replaced by
    the next of ``leaves``: one batch per dataloader, in the collection's shape."""
    if isinstance(structure, Mapping):
        return {key: unflatten(value, leaves) for key, value in structure.items()}
    if isinstance(structure, (list, tuple)):
        items = [unflatten(value, leaves) for value in structure]
        if not isinstance(structure, tuple):
            return items
        return type(structure)(*items) if hasattr(structure, "_fields") else type(structure)(items)
    return next(leaves)


def check_iterable(dataloader: Any, source: DataSource, fn: str) -> None:
    """A clear TypeError naming where a non-iterable "dataloader" came from.

    Checked without calling ``iter()``: creating a DataLoader iterator draws from the global RNG
    (and may start worker processes), which a check must not do.
    """
    if isinstance(dataloader, Iterable) or hasattr(type(dataloader), "__getitem__"):
        return
    prefix = "train_" if fn == "fit" else ""
    if not source.is_module():
        raise TypeError(
            f"An invalid dataloader was passed to `Trainer.{fn}({prefix}dataloaders=...)`. Found"
            f" {dataloader}."
        )
    raise TypeError(
        "An invalid dataloader was returned from"
        f" `{type(source.instance).__name__}.{source.name}()`. Found {dataloader}."
    )


def sized_len(dataloader: Any) -> int | None:
    try:
        return len(dataloader)
    except (TypeError, NotImplementedError):
        return None


def num_batches(dataloader: Any, limit: int | float, prefix: str) -> int | float:
    """Batches one epoch of ``dataloader`` gives under ``limit_{prefix}_batches`` (inf if
    unsized).
    """
    length = sized_len(dataloader)
    if length == 0:
        warn(
            f"Total length of `{type(dataloader).__name__}` across ranks is zero. Please make sure"
            f" this was your intention: no {prefix} batches will run."
        )
        return 0
    if length is None:
        if isinstance(limit, int):
            return limit
        if limit != 1.0:
            raise MisconfigurationException(
                f"When using an `IterableDataset`, `Trainer(limit_{prefix}_batches)` must be `1.0`"
                f" or an int. An int specifies `num_{prefix}_batches` to use."
            )
        return float("inf")
    if isinstance(limit, int):
        return min(length, limit)
    batches = int(length * limit)
    if batches == 0 and limit > 0.0:
        raise MisconfigurationException(
            f"You requested to check {limit} of the `{prefix}_dataloader` but {limit} * {length} <"
            f" 1. Please increase the `limit_{prefix}_batches` argument. Try at least"
            f" `limit_{prefix}_batches={1.0 / length}`"
        )
    return batches


def set_sampler_epoch(dataloader: Any, epoch: int) -> None:
    """Call ``set_epoch`` on the dataloader's sampler(s), e.g. a ``DistributedSampler``."""
    for holder in (dataloader, getattr(dataloader, "batch_sampler", None)):
        sampler = getattr(holder, "sampler", None)
        if sampler is not None and callable(getattr(sampler, "set_epoch", None)):
            sampler.set_epoch(epoch)


class BatchIterator:
    """Iterates one dataloader (or combined loaders) up to ``limit`` batches; knows the last one.

    As Lightning's data fetcher does, a batch is fetched only when it is needed if the number
    of batches is known, and one batch ahead otherwise (the only way to know, while processing
    a batch, that it is the last). Fetch timing matters: datasets and dropout may share the
    global RNG, and batches drawn in a different order give different numbers.
    """

    def __init__(self, iterable: Any, limit: int | float) -> None:
        """Starts a pass over ``iterable`` (this creates its iterator)."""
        self.iterable = iterable
        length = sized_len(iterable)
        bound = min(limit, length) if length is not None else limit
        self.length: int | None = None if math.isinf(bound) else int(bound)
        self.restart()

    def __iter__(self) -> BatchIterator:
        return self  # an iterator: iterating it again continues the same pass

    def restart(self) -> None:
        """Start a fresh pass over the data (a new iterator of the dataloader)."""
        self.fetched = 0
        self.done = self.length == 0
        self._iterator = iter(self.iterable)
        self._ahead = _END
        if self.length is None:
            self._ahead = self._fetch()
            self.done = self._ahead is _END

    def close(self) -> None:
        """Let go of the dataloader iterator now, stopping its worker processes."""
        shutdown = getattr(self._iterator, "_shutdown_workers", None)
        if callable(shutdown):
            shutdown()
            # a DataLoader with persistent workers caches its iterator: drop the dead one too
            if getattr(self.iterable, "_iterator", None) is self._iterator:
                self.iterable._iterator = None
        self._iterator = None
        self._ahead = _END

    def _fetch(self) -> Any:
        try:
            batch = next(self._iterator)  # type: ignore[arg-type]
        except StopIteration:
            return _END
        self.fetched += 1
        return batch

    def __next__(self) -> Any:
        if self.length is not None:
            if self.fetched >= self.length:
                self.done = True
                raise StopIteration
            batch = next(self._iterator)  # type: ignore[arg-type]
            self.fetched += 1
            self.done = self.fetched >= self.length
            return batch
        batch = self._ahead
        if batch is _END:
            self.done = True
            raise StopIteration
        self._ahead = self._fetch()
        self.done = self._ahead is _END
        return batch


class CycleCombined:
    """Zips a collection of dataloaders into one batch per step, restarting shorter ones."""

    def __init__(self, collection: Any, limits: list[int | float]) -> None:
        self.collection = collection
        self.loaders = flatten(collection)
        self.limits = limits

    def __len__(self) -> int:
        longest = max(self.limits, default=0)
        if math.isinf(longest):
            raise TypeError("an unsized dataloader has no length")
        return int(longest)

    def __iter__(self) -> Iterator[Any]:
        longest = max(self.limits, default=0)
        iterators = [BatchIterator(dl, lim) for dl, lim in zip(self.loaders, self.limits)]
        step = 0
        while step < longest:
            batches = []
            for i, iterator in enumerate(iterators):
                try:
                    batch = next(iterator)
                except StopIteration:
                    if self.limits[i] == longest:  # the longest one ran out: the epoch is over
                        return
                    iterators[i] = BatchIterator(self.loaders[i], self.limits[i])
                    try:
                        batch = next(iterators[i])
                    except StopIteration:  # an empty dataloader cannot be cycled
                        return
                batches.append(batch)
            step += 1
            yield self._pack(batches)

    def _pack(self, batches: list[Any]) -> Any:
        return unflatten(self.collection, iter(batches))
