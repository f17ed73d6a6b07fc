"""Fixtures for the reference trainer's own tests."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import pytest

import reference as L


@pytest.fixture
def make_trainer(tmp_path: Path) -> Any:
    """``make_trainer(**flags)``: a quiet reference Trainer rooted in this test's tmp_path."""

    def build(**flags: Any) -> L.Trainer:
        quiet = {
            "logger": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "enable_checkpointing": False,
            "default_root_dir": tmp_path,
        }
        return L.Trainer(**{**quiet, **flags})

    return build


@pytest.fixture(autouse=True)
def _quiet_logs() -> Any:
    """Info messages ("Trainer.fit stopped: ...") are noise here; warnings stay visible."""
    logger = logging.getLogger("reference")
    level = logger.level
    logger.setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*max_epochs` was not set.*")
        yield
    logger.setLevel(level)


def _namespaces() -> list[Any]:
    params = [pytest.param("reference", id="reference")]
    params.append(pytest.param("pytorch_lightning", id="lightning"))
    return params


@pytest.fixture(params=_namespaces())
def ns(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """The framework under test: ``reference``, and real Lightning as a cross-check.

    Tests that take ``ns`` state behaviour both must show; the Lightning variant is skipped
    when ``pytorch_lightning`` is not installed.
    """
    if request.param == "reference":
        namespace = L
    else:
        namespace = pytest.importorskip("pytorch_lightning")

    class Namespace:
        name = request.param
        LightningModule = namespace.LightningModule
        Callback = namespace.Callback
        LightningDataModule = namespace.LightningDataModule
        module = namespace

        @staticmethod
        def trainer(**flags: Any) -> Any:
            quiet = {
                "logger": False,
                "enable_progress_bar": False,
                "enable_model_summary": False,
                "enable_checkpointing": False,
                "default_root_dir": tmp_path,
                "accelerator": "cpu",
                "devices": 1,
            }
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return namespace.Trainer(**{**quiet, **flags})

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    return Namespace
