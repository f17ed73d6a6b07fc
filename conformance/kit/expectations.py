"""Small pure-Python models of loop arithmetic that clauses compare real runs against.

Each function encodes one rule from the facts file (section given in its docstring) without
touching torch or a trainer, so a property test can compare it with what a target does for many
configurations.
"""

from __future__ import annotations


def is_stepping_batch(batch_idx: int, n_batches: int, accumulate: int) -> bool:
    """§1.6: a batch steps when it closes an accumulation window or is the epoch's last batch."""
    return (batch_idx + 1) % accumulate == 0 or batch_idx == n_batches - 1


def global_steps_around_batches(
    n_batches: int, n_epochs: int, accumulate: int = 1
) -> list[tuple[int, int, int, int]]:
    """§2.2: ``(epoch, batch_idx, global_step at batch start, global_step at batch end)``."""
    rows = []
    steps = 0
    for epoch in range(n_epochs):
        for batch_idx in range(n_batches):
            start = steps
            if is_stepping_batch(batch_idx, n_batches, accumulate):
                steps += 1
            rows.append((epoch, batch_idx, start, steps))
    return rows


def limited_batches(length: int, limit: int | float) -> int:
    """§2.10: how many batches a ``limit_*_batches`` value leaves from a loader of ``length``."""
    if isinstance(limit, bool):
        raise TypeError("a batch limit is an int or a float, not a bool")
    if isinstance(limit, int):
        return min(length, limit)
    return int(length * limit)


def val_check_batch(n_batches: int, val_check_interval: int | float) -> int:
    """§2.4: the batch period of in-fit validation for an int or float ``val_check_interval``."""
    if isinstance(val_check_interval, int):
        return val_check_interval
    return max(1, int(n_batches * val_check_interval))


def validation_points(
    n_batches: int,
    n_epochs: int,
    val_check_interval: int | float = 1.0,
    check_val_every_n_epoch: int | None = 1,
) -> list[tuple[int, int]]:
    """§2.4: ``(epoch, batch_idx)`` after which in-fit validation runs.

    Validation follows batch ``b`` when ``(i + 1) % period == 0``, where ``i`` is the epoch-local
    index (or the cumulative batch count when ``check_val_every_n_epoch is None``), and only in
    epochs selected by ``check_val_every_n_epoch``. There is no extra validation at the end of an
    epoch or of training.
    """
    period = val_check_batch(n_batches, val_check_interval)
    points = []
    total = 0
    for epoch in range(n_epochs):
        epoch_selected = (
            check_val_every_n_epoch is None or (epoch + 1) % check_val_every_n_epoch == 0
        )
        for batch_idx in range(n_batches):
            index = total if check_val_every_n_epoch is None else batch_idx
            if epoch_selected and (index + 1) % period == 0:
                points.append((epoch, batch_idx))
            total += 1
    return points
