"""Same seed, same code: the reference trains to the same weights as Lightning, bit for bit.

The model uses dropout and the dataset draws random noise per sample, so the global RNG is
shared by data loading and the forward pass; any difference in when batches are fetched,
iterators are created or the sanity check runs shows up as different weights.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader, Dataset


class NoisyDataset(Dataset):
    def __len__(self) -> int:
        return 12

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.full((8,), float(index)) / 12 + 0.1 * torch.randn(8)  # global RNG
        return x, x.sum(dim=0, keepdim=True)


def train(ns: Any, **flags: Any) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    class Model(ns.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(8, 16),
                torch.nn.ReLU(),
                torch.nn.Dropout(0.3),
                torch.nn.Linear(16, 1),
            )

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("train_loss", loss, on_epoch=True)
            return loss

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

        def configure_optimizers(self) -> Any:
            optimizer = torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)
            return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)]

        def train_dataloader(self) -> DataLoader:
            return DataLoader(NoisyDataset(), batch_size=3, shuffle=True)

        def val_dataloader(self) -> DataLoader:
            return DataLoader(NoisyDataset(), batch_size=4)

    ns.module.seed_everything(1234, verbose=False)
    model = Model()
    trainer = ns.trainer(**flags)
    trainer.fit(model)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    return {k: v.clone() for k, v in model.state_dict().items()}, metrics


class _Framework:
    """What ``train`` needs from a framework: its module, base class and a quiet Trainer."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.LightningModule = module.LightningModule

    def trainer(self, **flags: Any) -> Any:
        return self.module.Trainer(**{**QUIET, **flags})


@pytest.mark.parametrize(
    "flags",
    [
        {"max_epochs": 3},
        {"max_epochs": 2, "accumulate_grad_batches": 2, "val_check_interval": 0.5},
        {"max_epochs": 2, "gradient_clip_val": 0.1, "num_sanity_val_steps": 0},
    ],
    ids=["plain", "accumulate-midepoch-val", "clip-no-sanity"],
)
def test_weights_and_metrics_match_lightning_bit_for_bit(flags: dict, tmp_path: Any) -> None:
    pl = pytest.importorskip("pytorch_lightning")
    import reference

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weights, metrics = train(_Framework(reference), default_root_dir=tmp_path, **flags)
        expected_weights, expected_metrics = train(
            _Framework(pl), default_root_dir=tmp_path, **flags
        )
    for name, tensor in expected_weights.items():
        assert torch.equal(weights[name], tensor), name
    # epoch means are summed in another order (stacked, not one by one): equal up to rounding
    assert metrics.keys() == expected_metrics.keys()
    assert metrics == pytest.approx(expected_metrics, rel=1e-6)


QUIET = {
    "logger": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "enable_checkpointing": False,
    "accelerator": "cpu",
    "devices": 1,
}
