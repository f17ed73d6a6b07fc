"""``Profiler``: the interface Lightning's profilers share (``start``/``stop`` an action, the
``profile`` context manager, a text ``summary``), for code that calls ``trainer.profiler``."""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("reference")


class Profiler(ABC):
    """Base class of profilers: time named actions and report on them.

    Args:
        dirpath, filename: where :meth:`describe` appends the summary
            (``dirpath/[<stage>-]<filename>.txt``); without a filename it is logged instead.
    """

    def __init__(self, dirpath: str | Path | None = None, filename: str | None = None) -> None:
        self.dirpath = dirpath
        self.filename = filename
        self._stage: str | None = None
        self._local_rank: int | None = None

    @abstractmethod
    def start(self, action_name: str) -> None:
        """Start recording ``action_name``."""

    @abstractmethod
    def stop(self, action_name: str) -> None:
        """Stop recording ``action_name``."""

    def summary(self) -> str:
        """The report; empty when there is nothing to say."""
        return ""

    @contextmanager
    def profile(self, action_name: str) -> Iterator[str]:
        """``with profiler.profile("load data"): ...`` records the block, also when it raises."""
        self.start(action_name)
        try:
            yield action_name
        finally:
            self.stop(action_name)

    def describe(self) -> None:
        """Write the summary (to the file if a filename was given, else to the log)."""
        summary = self.summary()
        if not summary:
            return
        if not self.filename:
            log.info(summary)
            return
        directory = os.fspath(self.dirpath) if self.dirpath else os.getcwd()
        os.makedirs(directory, exist_ok=True)
        name = f"{self._stage}-{self.filename}" if self._stage else self.filename
        with open(os.path.join(directory, f"{name}.txt"), "a", encoding="utf-8") as file:
            file.write(summary)

    def setup(self, stage: str, local_rank: int | None = None, log_dir: str | None = None) -> None:
        """Called before a run: the stage names the report file; ``log_dir`` is the default
        ``dirpath``."""
        self._stage = stage
        self._local_rank = local_rank
        self.dirpath = self.dirpath or log_dir

    def teardown(self, stage: str | None) -> None:
        """Called after a run."""
        return None

    @property
    def local_rank(self) -> int:
        return 0 if self._local_rank is None else self._local_rank
