"""The Trainer and its loops."""

from reference.trainer.trainer import Trainer

__all__ = ["Trainer"]
