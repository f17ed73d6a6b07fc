"""Warning categories and the info channel of the reference trainer."""

from __future__ import annotations

import logging
import warnings

log = logging.getLogger("reference")


class PossibleUserWarning(UserWarning):
    """Something that is often, but not always, a mistake (Lightning's category of the same
    name).
    """


def warn(message: str, category: type[Warning] = UserWarning, stacklevel: int = 3) -> None:
    warnings.warn(message, category, stacklevel=stacklevel)


def info(message: str) -> None:
    log.info(message)


class WarnOnce:
    """Emit each distinct message once per owner, to keep per-batch warnings from flooding."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def warn(self, message: str, category: type[Warning] = UserWarning) -> None:
        if message not in self._seen:
            self._seen.add(message)
            warn(message, category, stacklevel=4)

    def info(self, message: str) -> None:
        if message not in self._seen:
            self._seen.add(message)
            info(message)
