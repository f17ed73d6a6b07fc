"""trainspec's reference trainer: Lightning 2.x's public API, compact and readable.

Use it as ``import reference as L`` in code written for Lightning::

    trainer = L.Trainer(max_epochs=3)
    trainer.fit(model, train_dataloaders=loader)
"""

from reference.callbacks.callback import Callback
from reference.datamodule import LightningDataModule
from reference.module import LightningModule
from reference.trainer.trainer import Trainer
from reference.utilities.seed import seed_everything

__version__ = "0.1.0"

# What this target declares to the conformance suite (see conformance/target.py).
TRAINSPEC = {
    "name": "trainspec-reference",
    "devices": ["cpu", "cuda", "mps", "xla"],
    "precisions": ["64-true", "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true"],
    "strategies": ["auto", "single_device", "single_xla"],
    "profile": "2.x",
    "deviations": "deviations.toml",  # next to this file
}

__all__ = [
    "Callback",
    "LightningDataModule",
    "LightningModule",
    "Trainer",
    "seed_everything",
]
