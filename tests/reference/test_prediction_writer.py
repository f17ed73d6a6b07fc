"""``BasePredictionWriter``: the same writer, run under the reference and under Lightning, is
called at the same points with the same predictions and dataset indices."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

DATA = TensorDataset(torch.arange(7.0).unsqueeze(-1))


def _values(predictions: Any) -> Any:
    if isinstance(predictions, torch.Tensor):
        return predictions.tolist()
    return [_values(p) for p in predictions]


def predict_with_writer(ns: Any, interval: str, dataloaders: Any, **predict_kwargs: Any) -> Any:
    seen: list[tuple] = []

    class Writer(ns.module.callbacks.BasePredictionWriter):
        def write_on_batch_end(
            self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx
        ) -> None:
            seen.append(
                ("batch", _values(prediction), list(batch_indices), batch_idx, dataloader_idx)
            )

        def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices) -> None:
            seen.append(("epoch", _values(predictions), batch_indices))

    class Model(ns.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(1, 1)

        def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
            return batch[0].squeeze(-1) * 10

    torch.manual_seed(0)
    trainer = ns.trainer(callbacks=[Writer(interval)])
    returned = trainer.predict(Model(), dataloaders=dataloaders, **predict_kwargs)
    returned = None if returned is None else _values(returned)
    return seen, returned, trainer.predict_loop.predictions


def test_shuffled_batches_report_their_dataset_indices(ns: Any) -> None:
    loader = DataLoader(DATA, batch_size=3, shuffle=True)
    seen, returned, kept = predict_with_writer(
        ns, "batch_and_epoch", loader, return_predictions=False
    )
    assert returned is None and kept == []  # kept for the writer, dropped at the end
    batches = [entry for entry in seen if entry[0] == "batch"]
    assert [b[3] for b in batches] == [0, 1, 2]
    for _, prediction, indices, _, _ in batches:
        assert prediction == [10.0 * i for i in indices]  # the indices are this batch's samples
    assert sorted(i for b in batches for i in b[2]) == list(range(7))
    # the epoch call comes last, with every batch's prediction and, per dataloader, its indices
    assert seen[-1] == ("epoch", [b[1] for b in batches], [[b[2] for b in batches]])


def test_epoch_writer_with_two_dataloaders(ns: Any) -> None:
    loaders = [DataLoader(DATA, batch_size=4), DataLoader(DATA, batch_size=5)]
    seen, returned, _ = predict_with_writer(ns, "epoch", loaders)
    indices = [[[0, 1, 2, 3], [4, 5, 6]], [[0, 1, 2, 3, 4], [5, 6]]]
    expected = [[[10.0 * i for i in batch] for batch in per_loader] for per_loader in indices]
    assert seen == [("epoch", expected, indices)]
    assert returned == expected


def test_batch_writer_only_keeps_nothing_when_not_returning(ns: Any) -> None:
    seen, returned, kept = predict_with_writer(
        ns, "batch", DataLoader(DATA, batch_size=4), return_predictions=False
    )
    assert [entry[2] for entry in seen] == [[0, 1, 2, 3], [4, 5, 6]]
    assert returned is None and kept == []


def test_loader_without_batch_sampler_gives_empty_indices_and_warns(ns: Any) -> None:
    class Batches:  # an iterable that is not a DataLoader: no sampler to read indices from
        def __iter__(self) -> Any:
            return iter([(torch.tensor([[1.0], [2.0]]),), (torch.tensor([[3.0]]),)])

        def __len__(self) -> int:
            return 2

    with pytest.warns(UserWarning, match="Couldn't infer the batch indices.*`Batches`"):
        seen, _, _ = predict_with_writer(ns, "batch_and_epoch", Batches())
    assert seen == [
        ("batch", [10.0, 20.0], [], 0, 0),
        ("batch", [30.0], [], 1, 0),
        ("epoch", [[10.0, 20.0], [30.0]], [[]]),
    ]


def test_bad_write_interval_is_refused(ns: Any) -> None:
    with pytest.raises(ns.module.utilities.exceptions.MisconfigurationException, match="batch"):
        ns.module.callbacks.BasePredictionWriter("step")


def test_user_dataloader_is_left_as_it_was(make_trainer: Any) -> None:
    import reference as L

    class Writer(L.callbacks.BasePredictionWriter):
        def write_on_batch_end(self, *args: Any) -> None:
            raise RuntimeError("stop")

    class Model(L.LightningModule):
        def predict_step(self, batch: Any, batch_idx: int) -> Any:
            return batch[0]

    loader = DataLoader(DATA, batch_size=2)
    original = loader.batch_sampler
    with pytest.raises(RuntimeError, match="stop"):
        make_trainer(callbacks=[Writer()]).predict(Model(), loader)
    assert loader.batch_sampler is original  # the recording wrapper is gone after an error


def test_writer_without_the_needed_method_says_which(make_trainer: Any) -> None:
    import reference as L

    class Model(L.LightningModule):
        def predict_step(self, batch: Any, batch_idx: int) -> Any:
            return batch[0]

    writer = L.callbacks.BasePredictionWriter("epoch")
    with pytest.raises(NotImplementedError, match="write_on_epoch_end"):
        make_trainer(callbacks=[writer]).predict(Model(), DataLoader(DATA, batch_size=2))


def test_iterable_dataset_has_no_indices(ns: Any) -> None:
    class Stream(IterableDataset):
        def __iter__(self) -> Any:
            return iter([(torch.tensor([float(i)]),) for i in range(3)])

    with pytest.warns(UserWarning, match="Couldn't infer the batch indices.*`DataLoader`"):
        seen, _, _ = predict_with_writer(ns, "batch", DataLoader(Stream(), batch_size=2))
    assert [entry[2] for entry in seen] == [[], []]


def test_indices_with_worker_processes(ns: Any) -> None:
    """Workers prefetch: indices are drawn ahead of the batch being predicted."""
    loader = DataLoader(DATA, batch_size=2, shuffle=True, num_workers=1, prefetch_factor=3)
    seen, _, _ = predict_with_writer(ns, "batch", loader)
    for _, prediction, indices, _, _ in seen:
        assert prediction == [10.0 * i for i in indices]
    assert sorted(i for entry in seen for i in entry[2]) == list(range(7))


def test_dataloader_iter_in_predict_step_is_refused(ns: Any) -> None:
    class Writer(ns.module.callbacks.BasePredictionWriter):
        def write_on_batch_end(self, *args: Any) -> None:
            pass

    class Model(ns.LightningModule):
        def predict_step(self, dataloader_iter: Any) -> Any:
            return next(dataloader_iter)

    trainer = ns.trainer(callbacks=[Writer()])
    with pytest.raises(NotImplementedError, match="dataloader_iter"):
        trainer.predict(Model(), DataLoader(DATA, batch_size=2))
