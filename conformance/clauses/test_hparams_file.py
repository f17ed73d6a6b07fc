"""HPARAMS-FILE: loggers write ``hparams.yaml`` holding the *initial* hyperparameters.

The clauses fit with the target's own ``CSVLogger`` (``target.namespace.loggers.CSVLogger``); a
target without one cannot be checked and the clauses are reported not_run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from conformance.kit.checkpoints import csv_logger_class, read_checkpoint
from conformance.kit.ckpt_models import tiny_datamodule_class, tiny_module_class
from conformance.registry import clause, facts, seed

YAML_DOCS = seed(
    "002",
    "Save Hyperparameters",
    "Lightning has a standardized way of saving the information for you in checkpoints and YAML "
    "files. ... In addition, loggers that support it will automatically log the contents of "
    "self.hparams.",
)


def _fit_with_csv_logger(target: Any, root: Path, model: Any, **fit_kwargs: Any) -> Any:
    logger = csv_logger_class(target)(save_dir=str(root), name="logs")
    trainer = target.trainer(
        root, logger=logger, max_epochs=1, limit_val_batches=0, num_sanity_val_steps=0
    )
    trainer.fit(model, **fit_kwargs)
    return trainer


def _hparams_yaml(trainer: Any) -> dict[str, Any]:
    log_dir = Path(trainer.logger.log_dir)
    path = log_dir / "hparams.yaml"
    written = sorted(p.name for p in log_dir.iterdir()) if log_dir.is_dir() else []
    assert path.is_file(), f"expected {path} to be written, observed files {written} in {log_dir}"
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict), f"{path}: expected a YAML mapping, observed {loaded!r}"
    return loaded


@clause(
    "HPARAMS-FILE-001",
    "fit() with a logger writes hparams.yaml in the logger's log_dir holding self.hparams",
    level="core",
    source=YAML_DOCS,
)
def test_hparams_yaml_written(target: Any, tmp_path: Path) -> None:
    model = tiny_module_class(target)(width=3, lr=0.02, batches=2)
    trainer = _fit_with_csv_logger(target, tmp_path, model)
    observed = _hparams_yaml(trainer)
    expected = {"width": 3, "lr": 0.02, "batches": 2, "shuffle": False, "dropout": 0.0}
    assert observed == expected, f"expected hparams.yaml {expected}, observed {observed}"


@clause(
    "HPARAMS-FILE-002",
    "hparams.yaml holds the initial hparams while the checkpoint holds the mutated current ones",
    level="de-facto",
    source=facts(
        "§4",
        "hparams.yaml holds the initial values ... the checkpoint's "
        "hyper_parameters holds the mutated current values",
    ),
    docs_say=YAML_DOCS,
)
def test_yaml_initial_checkpoint_current(target: Any, tmp_path: Path) -> None:
    model = tiny_module_class(target)(width=3, lr=0.02, batches=2)
    model.hparams.lr = 0.5  # mutated after save_hyperparameters (e.g. by a tuner)
    trainer = _fit_with_csv_logger(target, tmp_path, model)
    logged = _hparams_yaml(trainer)
    assert logged.get("lr") == 0.02, (
        f"hparams.yaml: expected the initial lr 0.02, observed {logged.get('lr')!r} in {logged}"
    )
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    saved = read_checkpoint(tmp_path / "model.ckpt").get("hyper_parameters")
    assert isinstance(saved, dict) and saved.get("lr") == 0.5, (
        f"checkpoint hyper_parameters: expected the current lr 0.5, observed {saved!r}"
    )


@clause(
    "HPARAMS-FILE-003",
    "hparams.yaml also holds the datamodule's hparams, merged with the module's",
    level="de-facto",
    source=facts("§4", "loggers get log_hyperparams(hparams_initial) merged from LM and DM"),
    docs_say=YAML_DOCS,
)
def test_yaml_merges_datamodule(target: Any, tmp_path: Path) -> None:
    model = tiny_module_class(target)(width=3, lr=0.02, batches=2)
    datamodule = tiny_datamodule_class(target)(width=3, batches=2, batch_size=2)
    trainer = _fit_with_csv_logger(target, tmp_path, model, datamodule=datamodule)
    observed = _hparams_yaml(trainer)
    expected = {
        "width": 3,
        "lr": 0.02,
        "batches": 2,
        "shuffle": False,
        "dropout": 0.0,
        "batch_size": 2,
    }
    assert observed == expected, f"expected hparams.yaml {expected}, observed {observed}"
