"""Experiment loggers: where ``self.log`` values end up on disk."""

from reference.loggers.csv_logs import CSVLogger
from reference.loggers.logger import DummyLogger, Logger
from reference.loggers.tensorboard import TensorBoardLogger

__all__ = ["CSVLogger", "DummyLogger", "Logger", "TensorBoardLogger"]
