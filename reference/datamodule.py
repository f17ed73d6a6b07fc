"""``LightningDataModule``: data loading (downloading, splitting, dataloaders) in one reusable
class.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from torch.utils.data import DataLoader, Dataset, IterableDataset

from reference.core.hooks import DataHooks
from reference.core.hparams import HyperparametersMixin
from reference.core.saving import load_from_checkpoint, restricted_classmethod


class LightningDataModule(DataHooks, HyperparametersMixin):
    """Override ``prepare_data``, ``setup``, the ``*_dataloader`` methods and, if needed, the
    batch-transfer hooks (which then take precedence over the LightningModule's)."""

    name: str | None = None
    # where save_checkpoint puts the datamodule's hyperparameters (Lightning's keys)
    CHECKPOINT_HYPER_PARAMS_KEY = "datamodule_hyper_parameters"
    CHECKPOINT_HYPER_PARAMS_NAME = "datamodule_hparams_name"
    CHECKPOINT_HYPER_PARAMS_TYPE = "datamodule_hparams_type"

    def __init__(self) -> None:
        super().__init__()
        self.trainer: Any = None

    @classmethod
    def from_datasets(
        cls,
        train_dataset: Dataset | Iterable[Dataset] | None = None,
        val_dataset: Dataset | Iterable[Dataset] | None = None,
        test_dataset: Dataset | Iterable[Dataset] | None = None,
        predict_dataset: Dataset | Iterable[Dataset] | None = None,
        batch_size: int = 1,
        num_workers: int = 0,
        **datamodule_kwargs: Any,
    ) -> LightningDataModule:
        """A datamodule whose dataloaders wrap the given datasets (training ones shuffled)."""

        def loader(dataset: Dataset, shuffle: bool) -> DataLoader:
            shuffle &= not isinstance(dataset, IterableDataset)
            return DataLoader(
                dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers
            )

        def loaders(datasets: Any, shuffle: bool) -> Any:
            if isinstance(datasets, Mapping):
                return {key: loader(ds, shuffle) for key, ds in datasets.items()}
            if isinstance(datasets, (list, tuple)):
                return [loader(ds, shuffle) for ds in datasets]
            return loader(datasets, shuffle)

        datamodule = cls(**datamodule_kwargs)
        if train_dataset is not None:
            datamodule.train_dataloader = lambda: loaders(train_dataset, True)  # type: ignore[method-assign]
        if val_dataset is not None:
            datamodule.val_dataloader = lambda: loaders(val_dataset, False)  # type: ignore[method-assign]
        if test_dataset is not None:
            datamodule.test_dataloader = lambda: loaders(test_dataset, False)  # type: ignore[method-assign]
        if predict_dataset is not None:
            datamodule.predict_dataloader = lambda: loaders(predict_dataset, False)  # type: ignore[method-assign]
        return datamodule

    def state_dict(self) -> dict[str, Any]:
        """State to save in checkpoints (under the class's qualified name) when non-empty."""
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    @restricted_classmethod
    def load_from_checkpoint(
        cls,
        checkpoint_path: Any,
        map_location: Any = None,
        hparams_file: Any = None,
        weights_only: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """A new datamodule: ``cls(**saved datamodule hparams, **kwargs)``, then
        ``load_state_dict`` with the state saved under its class name."""
        return load_from_checkpoint(
            cls, checkpoint_path, map_location, hparams_file, None, weights_only, **kwargs
        )

    def on_exception(self, exception: BaseException) -> None:
        """Called when the run using this datamodule fails."""
