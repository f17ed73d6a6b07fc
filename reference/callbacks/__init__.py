"""Callbacks: the ``Callback`` base class and the ones the trainer uses by default."""

from reference.callbacks.callback import Callback
from reference.callbacks.checkpoint import Checkpoint
from reference.callbacks.early_stopping import EarlyStopping
from reference.callbacks.lr_monitor import LearningRateMonitor
from reference.callbacks.model_checkpoint import ModelCheckpoint
from reference.callbacks.model_summary import ModelSummary
from reference.callbacks.prediction_writer import BasePredictionWriter
from reference.callbacks.progress import ProgressBar, TQDMProgressBar

__all__ = [
    "BasePredictionWriter",
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "LearningRateMonitor",
    "ModelCheckpoint",
    "ModelSummary",
    "ProgressBar",
    "TQDMProgressBar",
]
