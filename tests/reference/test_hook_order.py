"""Entry-order hook traces of the reference equal those of real Lightning 2.6 (facts §0-§1.13).

Each scenario builds the same hooked model and callback on ``reference`` and on
``pytorch_lightning`` (skipped when it is not installed), runs both, and compares the recorded
entry orders item by item, with arguments rendered framework-independently. A few checks of
the reference's own traces run without Lightning.
"""

from __future__ import annotations

import difflib
import logging
import warnings
from typing import Any

import pytest
from reference_tracing import TraceConfig, hooked_classes, hooked_datamodule

import reference as L

FIT = "fit"


def run_trace(
    namespace: Any,
    config: TraceConfig,
    verb: str,
    tmp_path: Any,
    datamodule: bool = False,
    **flags: Any,
) -> tuple[list[str], Any]:
    calls, Model, Callback = hooked_classes(namespace, config)
    kwargs = dict(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        default_root_dir=tmp_path,
        callbacks=[Callback()],
    )
    kwargs.update(flags)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            trainer = namespace.Trainer(**kwargs)
            model = Model()
            extra = (
                {"datamodule": hooked_datamodule(namespace, calls, config)()} if datamodule else {}
            )
            getattr(trainer, verb)(model, **extra)
        finally:
            logging.disable(logging.NOTSET)
    return calls, trainer


def assert_same(expected: list[str], actual: list[str]) -> None:
    if expected != actual:
        diff = "\n".join(
            difflib.unified_diff(expected, actual, "lightning", "reference", lineterm="", n=3)
        )
        pytest.fail(f"hook traces differ (entry order):\n{diff}")


SCENARIOS = {
    "fit-sanity-1-epoch": (TraceConfig(), FIT, {"max_epochs": 1}),
    "fit-2-epochs-no-optional-hooks": (TraceConfig(optional_hooks=False), FIT, {"max_epochs": 2}),
    "fit-int-val-check": (
        TraceConfig(train_batches=5),
        FIT,
        {"max_epochs": 2, "val_check_interval": 2},
    ),
    "fit-float-val-check": (
        TraceConfig(train_batches=5),
        FIT,
        {"max_epochs": 2, "val_check_interval": 0.5},
    ),
    "fit-check-val-every-2": (
        TraceConfig(train_batches=2),
        FIT,
        {"max_epochs": 3, "check_val_every_n_epoch": 2},
    ),
    "fit-accumulate-step-scheduler": (
        TraceConfig(train_batches=5, scheduler_interval="step"),
        FIT,
        {"max_epochs": 1, "accumulate_grad_batches": 2},
    ),
    "fit-manual": (
        TraceConfig(train_batches=3, manual=True, scheduler_interval=None),
        FIT,
        {"max_epochs": 2},
    ),
    "fit-step-returns-none": (TraceConfig(step_returns_none=True), FIT, {"max_epochs": 1}),
    "fit-skip-rest-of-epoch": (
        TraceConfig(train_batches=4, skip_rest_at=2),
        FIT,
        {"max_epochs": 2},
    ),
    "fit-should-stop": (
        TraceConfig(train_batches=4),
        FIT,
        {"max_epochs": 3, "val_check_interval": 2, "callbacks": None},
    ),
    "fit-max-steps": (TraceConfig(train_batches=4), FIT, {"max_steps": 3, "limit_val_batches": 0}),
    "fit-no-sanity": (TraceConfig(), FIT, {"max_epochs": 1, "num_sanity_val_steps": 0}),
    "validate": (TraceConfig(), "validate", {}),
    "validate-limit-0": (TraceConfig(), "validate", {"limit_val_batches": 0}),
    "test-two-loaders": (TraceConfig(val_loaders=2), "test", {}),
    "predict-two-loaders": (TraceConfig(val_loaders=2), "predict", {}),
    "predict-one-loader": (TraceConfig(val_batches=3), "predict", {}),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_entry_order_matches_lightning(name: str, tmp_path: Any) -> None:
    pl = pytest.importorskip("pytorch_lightning")
    config, verb, flags = SCENARIOS[name]
    if name == "fit-should-stop":
        config = TraceConfig(train_batches=4, stop_at_step=5)
        flags = {"max_epochs": 3, "val_check_interval": 2}
    expected, pl_trainer = run_trace(pl, config, verb, tmp_path / "pl", **flags)
    actual, ref_trainer = run_trace(L, config, verb, tmp_path / "ref", **flags)
    assert_same(expected, actual)
    assert ref_trainer.global_step == pl_trainer.global_step
    assert ref_trainer.current_epoch == pl_trainer.current_epoch


@pytest.mark.parametrize("verb", ["fit", "validate", "test", "predict"])
def test_datamodule_entry_order_matches_lightning(verb: str, tmp_path: Any) -> None:
    pl = pytest.importorskip("pytorch_lightning")
    flags = {"max_epochs": 1} if verb == FIT else {}
    expected, _ = run_trace(pl, TraceConfig(), verb, tmp_path / "pl", datamodule=True, **flags)
    actual, _ = run_trace(L, TraceConfig(), verb, tmp_path / "ref", datamodule=True, **flags)
    # Lightning's checkpoint-free fit still asks the datamodule for its state_dict nowhere,
    # so the traces must match as they are
    assert_same(expected, actual)


# ------------------------------------------------------------- reference-only properties
def test_optional_hooks_are_not_called_unless_overridden(tmp_path: Any) -> None:
    calls, _ = run_trace(L, TraceConfig(optional_hooks=False), FIT, tmp_path, max_epochs=1)
    names = {call.split("(")[0] for call in calls}
    assert not names & {"prepare_data", "configure_model", "on_validation_model_train"}
    assert "on_validation_model_eval" in names


def test_transfer_hooks_run_before_batch_start_and_optimizer_step_wraps_closure(
    tmp_path: Any,
) -> None:
    calls, _ = run_trace(
        L,
        TraceConfig(train_batches=1),
        FIT,
        tmp_path,
        max_epochs=1,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    names = [call.split("(")[0] for call in calls]
    start = names.index("on_train_batch_start")
    assert names.index("on_after_batch_transfer") < start
    order = [
        "optimizer_step",
        "training_step",
        "optimizer_zero_grad",
        "backward",
        "on_before_optimizer_step",
        "configure_gradient_clipping",
        "on_train_batch_end",
    ]
    positions = [names.index(n, start) for n in order]
    assert positions == sorted(positions), names[start:]


def test_validation_runs_before_train_epoch_end(tmp_path: Any) -> None:
    calls, _ = run_trace(L, TraceConfig(), FIT, tmp_path, max_epochs=1, num_sanity_val_steps=0)
    names = [call.split("(")[0] for call in calls]
    assert names.index("on_validation_model_zero_grad") < names.index("on_validation_start")
    assert names.index("on_validation_end") < names.index("on_train_epoch_end")
    # the module's epoch-end scheduler steps before the last batch's on_train_batch_end
    assert names.index("lr_scheduler_step") < names.index(
        "on_train_batch_end", names.index("lr_scheduler_step")
    )
