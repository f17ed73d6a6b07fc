"""Which dataset indices each predict batch holds, for prediction writers.

Lightning rebuilds every predict ``DataLoader`` around a batch sampler that remembers the index
lists it hands out. The reference does not rebuild user dataloaders; instead, for the duration
of one predict run (and only when a prediction writer is attached), it puts a recording wrapper
in place of the DataLoader's ``batch_sampler`` and puts the original back afterwards. The
DataLoader reads its batch sampler when an iterator is created, also in worker mode (indices
are always drawn in the main process), so every batch is seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from torch.utils.data import DataLoader, IterableDataset


class IndexRecordingBatchSampler:
    """Passes the wrapped batch sampler's index lists through and remembers them, in order.

    With worker processes the DataLoader draws indices ahead of the batch being processed, so
    ``seen_batch_indices`` may be longer than the batches seen so far; entry ``batch_idx`` is
    always that batch's.
    """

    def __init__(self, batch_sampler: Any) -> None:
        self.batch_sampler = batch_sampler
        self.seen_batch_indices: list[Any] = []

    def __iter__(self) -> Iterator[Any]:
        self.seen_batch_indices = []
        for indices in self.batch_sampler:
            self.seen_batch_indices.append(indices)
            yield indices

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def __getattr__(self, name: str) -> Any:
        # batch_size, drop_last, sampler, ... of the wrapped sampler
        if name == "batch_sampler":  # not set yet (e.g. while unpickling)
            raise AttributeError(name)
        return getattr(self.batch_sampler, name)


def recorder_of(dataloader: Any) -> IndexRecordingBatchSampler | None:
    """The recording wrapper installed in ``dataloader``, if any."""
    sampler = getattr(dataloader, "batch_sampler", None)
    return sampler if isinstance(sampler, IndexRecordingBatchSampler) else None


@contextmanager
def recording_batch_indices(dataloaders: list[Any]) -> Iterator[None]:
    """Record the index lists of every map-style DataLoader with a batch sampler among
    ``dataloaders`` while the block runs; the dataloaders are as they were afterwards, also
    after an error."""
    installed: list[tuple[DataLoader, Any]] = []
    try:
        for dataloader in dataloaders:
            if not isinstance(dataloader, DataLoader) or dataloader.batch_sampler is None:
                continue
            if isinstance(dataloader.dataset, IterableDataset):
                continue  # its sampler yields None for every sample: no indices to give
            if recorder_of(dataloader) is not None or any(dataloader is d for d, _ in installed):
                continue  # the same loader listed twice: one recorder is enough
            original = dataloader.batch_sampler
            # DataLoader forbids assigning batch_sampler after __init__ because a different
            # sampler could change its length; the wrapper yields exactly the same batches.
            object.__setattr__(dataloader, "batch_sampler", IndexRecordingBatchSampler(original))
            installed.append((dataloader, original))
        yield
    finally:
        for dataloader, original in reversed(installed):
            object.__setattr__(dataloader, "batch_sampler", original)
