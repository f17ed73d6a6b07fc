"""HOOK-EVAL and HOOK-PREDICT: the hooks of the evaluation loops (seed 002, "Hooks": ``val_loop``).

``trainer.validate`` / ``test`` / ``predict`` run one evaluation loop between ``setup(stage)`` and
``teardown(stage)``; ``fit`` runs the same validation loop inside its epochs. As in
``test_hooks_fit``, each clause compares the events of its rule with the executable spec's.

The recording module overrides ``on_validation_model_train`` / ``on_test_model_train``, so they
are expected after ``on_<stage>_end``. That Lightning calls them *only* when overridden (and
otherwise restores each submodule's mode itself, facts §1.12) is observable through modes, not
hooks: see MODE-003 and MODE-010.
"""

from __future__ import annotations

import pytest

from conformance.kit.hook_workload import record
from conformance.registry import clause, facts, seed
from conformance.spec import EvalConfig, FitConfig, expected_trace
from conformance.spec.trace import assert_same_order
from conformance.target import Target

VAL_LOOP = seed(
    "002",
    "Hooks",
    "def val_loop(): on_validation_model_eval() / on_validation_start() / "
    "on_validation_epoch_start() / for batch_idx, batch in enumerate(val_dataloader()): "
    "on_validation_batch_start(batch, batch_idx) ... out = validation_step(batch, batch_idx) / "
    "on_validation_batch_end(out, batch, batch_idx) / on_validation_epoch_end() / "
    "on_validation_end() / on_validation_model_train()",
)
TEST_LIKE_VALIDATION = seed(
    "002",
    "Testing",
    "The process for enabling a test loop is the same as the process for enabling a validation "
    "loop",
)
PREDICT_LOOP = seed(
    "002",
    "Inference",
    "model.eval() / for batch_idx, batch in enumerate(predict_dataloader): "
    "pred = model.predict_step(batch, batch_idx)",
)
SINGLE_LOADER = seed("002", "Hooks", "for batch_idx, batch in enumerate(val_dataloader()):")


def check(
    target: Target,
    config: EvalConfig | FitConfig,
    rule: str,
    hooks: tuple[str, ...] | None = None,
) -> None:
    actual = record(target, config).events
    assert_same_order(expected_trace(config), actual, rule, hooks=hooks, owners=("M",))


def loop_hooks(noun: str) -> tuple[str, ...]:
    """The module hooks of one evaluation loop, as the pseudocode lists them."""
    return (
        f"on_{noun}_model_eval", f"on_{noun}_start", f"on_{noun}_epoch_start",
        f"on_{noun}_batch_start", f"{noun}_step", f"on_{noun}_batch_end",
        f"on_{noun}_epoch_end", f"on_{noun}_end", f"on_{noun}_model_train",
    )  # fmt: skip


@clause(
    "HOOK-EVAL-001",
    "validate() runs on_validation_model_eval, on_validation_start, on_validation_epoch_start, per "
    "batch on_validation_batch_start/validation_step/on_validation_batch_end, then "
    "on_validation_epoch_end, on_validation_end, on_validation_model_train",
    level="core",
    source=VAL_LOOP,
)
def test_validation_loop_order(target: Target) -> None:
    config = EvalConfig("validate", batches=(3,))
    check(target, config, "the validation loop hooks must run in val_loop()'s order",
          loop_hooks("validation"))  # fmt: skip


@clause(
    "HOOK-EVAL-002",
    "test() runs the same loop as validation, with the test hooks",
    level="core",
    source=TEST_LIKE_VALIDATION,
)
def test_test_loop_order(target: Target) -> None:
    config = EvalConfig("test", batches=(3,))
    check(target, config, "the test loop hooks must run in val_loop()'s order", loop_hooks("test"))


@clause(
    "HOOK-EVAL-007",
    "inside fit, the sanity check and every in-fit validation run the same val_loop hook sequence",
    level="core",
    source=VAL_LOOP,
)
def test_in_fit_validation_loop_order(target: Target) -> None:
    config = FitConfig(max_epochs=2, train_batches=2, val_batches=(2,), val_check_interval=1)
    rule = "each validation inside fit must run val_loop()'s hooks in order"
    check(target, config, rule, loop_hooks("validation"))


@clause(
    "HOOK-EVAL-003",
    "in evaluation the batch-transfer hooks run before on_<stage>_batch_start",
    level="de-facto",
    source=facts(
        "§1.13",
        "Docs put on_validation_batch_start before the batch-transfer hooks; "
        "code runs the transfer hooks first (evaluation_loop.py L412-431)",
    ),
    docs_say=seed(
        "002",
        "Hooks",
        "on_validation_batch_start(batch, batch_idx) / batch = "
        "on_before_batch_transfer(batch) / batch = transfer_batch_to_device(batch) / "
        "batch = on_after_batch_transfer(batch)",
    ),
)
@pytest.mark.parametrize("stage", ["validate", "test", "predict"])
def test_eval_batch_transfer_first(target: Target, stage: str) -> None:
    config = EvalConfig(stage, batches=(2,))  # type: ignore[arg-type]
    noun = config.noun
    hooks = (
        "on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer",
        f"on_{noun}_batch_start", f"{noun}_step",
    )  # fmt: skip
    check(target, config, f"[{stage}] transfer hooks must precede on_{noun}_batch_start", hooks)


@clause(
    "HOOK-EVAL-004",
    "several evaluation dataloaders run one after another inside one epoch_start/epoch_end pair, "
    "batch_idx restarting at 0 and dataloader_idx given to the batch hooks",
    level="de-facto",
    source=facts(
        "§1.8",
        "dataloader_idx is only passed ... when there are several dataloaders in 'sequential' mode",
    ),
    docs_say=SINGLE_LOADER,
)
@pytest.mark.parametrize("stage", ["validate", "test"])
def test_several_eval_dataloaders(target: Target, stage: str) -> None:
    config = EvalConfig(stage, batches=(2, 3))  # type: ignore[arg-type]
    noun = config.noun
    hooks = (
        f"on_{noun}_epoch_start", "on_before_batch_transfer", f"on_{noun}_batch_start",
        f"{noun}_step", f"on_{noun}_batch_end", f"on_{noun}_epoch_end",
    )  # fmt: skip
    rule = f"[{stage}] dataloaders must run in order, each from batch_idx 0, with dataloader_idx"
    check(target, config, rule, hooks)


@clause(
    "HOOK-EVAL-005",
    "validate()/test() call configure_callbacks, prepare_data, setup(stage), configure_model, the "
    "dataloader hook, the loop, then teardown(stage) -- and no optimizer or fit hooks",
    level="de-facto",
    source=facts("§1.8", "No configure_optimizers, no on_fit_* for validate/test/predict"),
    docs_say=seed(
        "002",
        "Validation",
        "You can also run just the validation loop ... calling Trainer.validate",
    ),
)
@pytest.mark.parametrize("stage", ["validate", "test"])
def test_eval_entry_point_trace(target: Target, stage: str) -> None:
    config = EvalConfig(stage, batches=(2,))  # type: ignore[arg-type]
    check(target, config, f"[{stage}] the whole module trace must match the spec")


@clause(
    "HOOK-EVAL-006",
    "with limit_<stage>_batches=0 no evaluation hook runs and the dataloader is not requested",
    level="de-facto",
    source=facts(
        "§1.8",
        "With limit_*_batches=0 the dataloader hook is not even requested and no eval hooks fire",
    ),
    docs_say=seed("002", "Validation", "(the page does not discuss batch limits)"),
)
@pytest.mark.parametrize("stage", ["validate", "test", "predict"])
def test_zero_limit_skips_loop(target: Target, stage: str) -> None:
    config = EvalConfig(stage, batches=(2,), limit_batches=0)  # type: ignore[arg-type]
    check(target, config, f"[{stage}] limit 0 must skip the dataloader and every loop hook")


@clause(
    "HOOK-PREDICT-001",
    "predict() runs on_predict_model_eval, on_predict_start, on_predict_epoch_start, per batch "
    "on_predict_batch_start/predict_step/on_predict_batch_end, on_predict_epoch_end, "
    "on_predict_end, between setup('predict') and teardown('predict')",
    level="de-facto",
    source=facts(
        "§1.9",
        "trainer.predict (completion order) ... There is no on_predict_model_train hook call",
    ),
    docs_say=PREDICT_LOOP,
)
def test_predict_trace(target: Target) -> None:
    config = EvalConfig("predict", batches=(3,))
    check(target, config, "the predict trace must match the spec (no on_predict_model_train)")


@clause(
    "HOOK-PREDICT-002",
    "several predict dataloaders run one after another, batch_idx restarting at 0 and "
    "dataloader_idx given to the batch hooks",
    level="de-facto",
    source=facts("§1.9", "list of such lists for several [dataloaders]"),
    docs_say=PREDICT_LOOP,
)
def test_several_predict_dataloaders(target: Target) -> None:
    config = EvalConfig("predict", batches=(2, 1, 2))
    hooks = (
        "on_predict_epoch_start", "on_before_batch_transfer", "on_predict_batch_start",
        "predict_step", "on_predict_batch_end", "on_predict_epoch_end",
    )  # fmt: skip
    check(target, config, "predict dataloaders must run in order, with dataloader_idx", hooks)
