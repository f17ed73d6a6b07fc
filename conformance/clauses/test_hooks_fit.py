"""HOOK-FIT: the order of the hooks ``trainer.fit`` calls (seed 002, "Hooks": ``fit``/``fit_loop``).

Each clause runs one small configuration on recording copies of the target's classes
(``conformance.kit.recording``), and compares the part of the trace its rule is about with the
executable spec's (``conformance.spec``), so a breach shows as a diff of just those events.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from conformance.kit.hook_workload import record
from conformance.registry import clause, facts, seed
from conformance.spec import FitConfig, expected_trace
from conformance.spec.trace import assert_same_order
from conformance.target import Target

FIT = seed(
    "002",
    "Hooks",
    'def fit(self): configure_callbacks() / if local_rank == 0: prepare_data() / setup("fit") / '
    "configure_model() / configure_optimizers() / on_fit_start() / # the sanity check runs here / "
    "on_train_start() / for epoch in epochs: fit_loop() / on_train_end() / on_fit_end() / "
    'teardown("fit")',
)
FIT_LOOP = seed(
    "002",
    "Hooks",
    "def fit_loop(): on_train_epoch_start() / for batch_idx, batch in "
    "enumerate(train_dataloader()): on_train_batch_start() ... "
    "on_train_batch_end(out, batch, batch_idx) / if should_check_val: val_loop() / "
    "on_train_epoch_end()",
)
BATCH = seed(
    "002",
    "Hooks",
    "out = training_step() / on_before_zero_grad() / optimizer_zero_grad() / on_before_backward() /"
    " backward() / on_after_backward() / on_before_optimizer_step() / "
    "configure_gradient_clipping() / optimizer_step() / on_train_batch_end(out, batch, batch_idx)",
)
SILENT_SCHEDULERS = seed("002", "Hooks", "(the pseudocode shows no lr_scheduler_step call)")

# One validating, two-epoch run with an epoch-interval scheduler and a callback: the default
# subject of the clauses below.
TWO_EPOCHS = FitConfig(max_epochs=2, train_batches=3, val_batches=(2,), callbacks=("plain",))


def check(
    target: Target, config: FitConfig, rule: str, hooks: tuple[str, ...], owners: tuple[str, ...]
) -> None:
    actual = record(target, config).events
    assert_same_order(expected_trace(config), actual, rule, hooks=hooks, owners=owners)


@clause(
    "HOOK-FIT-001",
    "fit() calls configure_callbacks, prepare_data, setup, configure_model, configure_optimizers, "
    "on_fit_start, on_train_start ... on_train_end, on_fit_end, teardown in this order",
    level="core",
    source=FIT,
)
def test_fit_entry_and_exit_hooks(target: Target) -> None:
    hooks = (
        "configure_callbacks", "prepare_data", "setup", "configure_model", "configure_optimizers",
        "on_fit_start", "on_train_start", "on_train_end", "on_fit_end", "teardown",
    )  # fmt: skip
    rule = "fit()'s outer hooks must run in the documented order, each once"
    check(target, TWO_EPOCHS, rule, hooks, owners=("M",))


@clause(
    "HOOK-FIT-002",
    "the sanity check runs after on_fit_start and before on_train_start",
    level="core",
    source=(FIT, facts("§2.5", "Callback.on_sanity_check_start/end around a short validation")),
)
def test_sanity_check_between_fit_start_and_train_start(target: Target) -> None:
    hooks = (
        "on_fit_start", "on_sanity_check_start", "validation_step", "on_sanity_check_end",
        "on_train_start",
    )  # fmt: skip
    rule = (
        "the sanity check (on_sanity_check_start ... on_sanity_check_end) must sit between "
        "on_fit_start and on_train_start"
    )
    check(target, TWO_EPOCHS, rule, hooks, owners=("M", "CB0"))


@clause(
    "HOOK-FIT-003",
    "train_dataloader is requested once per fit, after the sanity check and before on_train_start",
    level="de-facto",
    source=facts("§2.11", "train dataloader is requested once per fit (after the sanity check)"),
    docs_say=FIT_LOOP,
)
def test_train_dataloader_once_before_train_start(target: Target) -> None:
    hooks = ("on_sanity_check_end", "train_dataloader", "on_train_start", "on_train_epoch_start")
    rule = "train_dataloader must be requested once, after the sanity check, before on_train_start"
    check(target, TWO_EPOCHS, rule, hooks, owners=("M", "CB0"))


@clause(
    "HOOK-FIT-004",
    "each epoch runs on_train_epoch_start, its batches' on_train_batch_start/end, then "
    "on_train_epoch_end, all between on_train_start and on_train_end",
    level="core",
    source=(FIT, FIT_LOOP),
)
def test_epoch_and_batch_boundaries(target: Target) -> None:
    config = FitConfig(max_epochs=2, train_batches=3, val_batches=())
    hooks = (
        "on_train_start", "on_train_epoch_start", "on_train_batch_start", "on_train_batch_end",
        "on_train_epoch_end", "on_train_end",
    )  # fmt: skip
    rule = "epochs and batches must nest: epoch start, batch start/end per batch, epoch end"
    check(target, config, rule, hooks, owners=("M",))


@clause(
    "HOOK-FIT-005",
    "the batch-transfer hooks run before on_train_batch_start",
    level="de-facto",
    source=facts("§1.13", "code runs the transfer hooks first (training_epoch_loop.py L319-335)"),
    docs_say=seed(
        "002",
        "Hooks",
        "on_train_batch_start() / on_before_batch_transfer() / "
        "transfer_batch_to_device() / on_after_batch_transfer()",
    ),
)
def test_batch_transfer_before_train_batch_start(target: Target) -> None:
    config = FitConfig(max_epochs=1, train_batches=2, val_batches=())
    hooks = (
        "on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer",
        "on_train_batch_start", "training_step",
    )  # fmt: skip
    rule = (
        "on_before_batch_transfer, transfer_batch_to_device, on_after_batch_transfer must "
        "run before on_train_batch_start (which then sees the moved batch)"
    )
    check(target, config, rule, hooks, owners=("M",))


@clause(
    "HOOK-FIT-006",
    "an automatic-optimization batch runs training_step, on_before_zero_grad, optimizer_zero_grad,"
    " on_before_backward, backward, on_after_backward, on_before_optimizer_step, "
    "configure_gradient_clipping, then on_train_batch_end",
    level="core",
    source=BATCH,
)
def test_automatic_batch_hook_order(target: Target) -> None:
    config = FitConfig(max_epochs=1, train_batches=2, val_batches=(), scheduler=None)
    hooks = (
        "training_step", "on_before_zero_grad", "optimizer_zero_grad", "on_before_backward",
        "backward", "on_after_backward", "on_before_optimizer_step", "configure_gradient_clipping",
        "on_train_batch_end",
    )  # fmt: skip
    rule = (
        "the optimization hooks of a batch must run in the documented order, every batch "
        "(configure_gradient_clipping too, even with no clipping configured)"
    )
    check(target, config, rule, hooks, owners=("M",))


@clause(
    "HOOK-FIT-007",
    "optimizer_step is entered before training_step: training_step, zero_grad and backward run "
    "inside the closure it passes to optimizer.step",
    level="de-facto",
    source=facts("§1.4", "LightningModule.optimizer_step(...) is entered first ... the closure"),
    docs_say=BATCH,
)
def test_optimizer_step_wraps_the_closure(target: Target) -> None:
    config = FitConfig(max_epochs=1, train_batches=2, val_batches=(), scheduler=None)
    hooks = ("optimizer_step", "training_step", "on_after_backward", "on_train_batch_end")
    rule = "optimizer_step must be entered before training_step (the step runs in its closure)"
    check(target, config, rule, hooks, owners=("M",))


@clause(
    "HOOK-FIT-008",
    "an epoch-interval scheduler steps after the last batch's optimizer step, before that "
    "batch's on_train_batch_end and before the epoch-end validation",
    level="de-facto",
    source=facts(
        "§2.8",
        "right after the last batch's optimization, before that batch's "
        "on_train_batch_end and before end-of-epoch validation",
    ),
    docs_say=SILENT_SCHEDULERS,
)
def test_epoch_scheduler_before_last_batch_end(target: Target) -> None:
    config = FitConfig(max_epochs=2, train_batches=3, val_batches=(1,), scheduler="epoch")
    hooks = (
        "on_before_optimizer_step", "lr_scheduler_step", "on_train_batch_end",
        "on_validation_start", "on_train_epoch_end",
    )  # fmt: skip
    rule = (
        "lr_scheduler_step (interval='epoch') must follow the last batch's optimizer step and "
        "precede its on_train_batch_end"
    )
    check(target, config, rule, hooks, owners=("M",))


@clause(
    "HOOK-FIT-009",
    "a step-interval scheduler steps after every frequency-th optimizer step, before that "
    "batch's on_train_batch_end",
    level="de-facto",
    source=facts(
        "§2.8",
        "step-interval non-plateau: after every stepping batch ... when "
        "(batch_idx + 1) % frequency == 0",
    ),
    docs_say=SILENT_SCHEDULERS,
)
def test_step_scheduler_after_each_step(target: Target) -> None:
    config = FitConfig(
        max_epochs=1, train_batches=5, val_batches=(), scheduler="step", scheduler_frequency=2
    )
    hooks = ("on_before_optimizer_step", "lr_scheduler_step", "on_train_batch_end")
    rule = (
        "lr_scheduler_step (interval='step', frequency=2) must follow every second optimizer "
        "step, before that batch's on_train_batch_end"
    )
    check(target, config, rule, hooks, owners=("M",))


@clause(
    "HOOK-FIT-010",
    "in-fit validation runs after the triggering batch's on_train_batch_end and before "
    "on_train_epoch_end",
    level="core",
    source=(
        FIT_LOOP,
        seed(
            "002", "Validation", "on_validation_epoch_end ... is called before on_train_epoch_end"
        ),
    ),
)
def test_validation_inside_the_epoch(target: Target) -> None:
    config = FitConfig(
        max_epochs=2, train_batches=4, val_batches=(1,), val_check_interval=2,
        num_sanity_val_steps=0,
    )  # fmt: skip
    hooks = ("on_train_batch_end", "on_validation_start", "on_validation_end", "on_train_epoch_end")
    rule = (
        "validation must run right after the on_train_batch_end of the batch that triggers "
        "it, inside the epoch (before on_train_epoch_end)"
    )
    check(target, config, rule, hooks, owners=("M",))


# facts §2.4 table (10 batches, 2 epochs) and the check_val_every_n_epoch=None rule
PLACEMENTS = {
    "interval=1.0": FitConfig(max_epochs=2, train_batches=10, val_check_interval=1.0),
    "interval=0.3": FitConfig(max_epochs=2, train_batches=10, val_check_interval=0.3),
    "interval=0.25": FitConfig(max_epochs=2, train_batches=10, val_check_interval=0.25),
    "interval=3": FitConfig(max_epochs=2, train_batches=10, val_check_interval=3),
    "interval=0.5,every_2": FitConfig(
        max_epochs=2, train_batches=10, val_check_interval=0.5, check_val_every_n_epoch=2
    ),
    "interval=3,every_None": FitConfig(
        max_epochs=3, train_batches=4, val_check_interval=3, check_val_every_n_epoch=None
    ),
}


@clause(
    "HOOK-FIT-011",
    "in-fit validation runs after batch i when (i + 1) is a multiple of the val_check_interval "
    "batch count (epoch-local, or across epochs with check_val_every_n_epoch=None)",
    level="de-facto",
    source=facts(
        "§2.4",
        "Validation happens when (idx + 1) % val_check_batch == 0 ... For float "
        "intervals this REPLACES the 'last batch' rule",
    ),
    docs_say=seed("002", "Hooks", "if should_check_val: val_loop()"),
)
@pytest.mark.parametrize("case", list(PLACEMENTS))
def test_validation_placement(target: Target, case: str) -> None:
    config = replace(PLACEMENTS[case], val_batches=(1,), num_sanity_val_steps=0)
    rule = f"[{case}] validation must follow exactly the batches val_check_interval selects"
    check(target, config, rule, ("on_train_batch_end", "on_validation_start"), owners=("M",))


@clause(
    "HOOK-FIT-012",
    "on_validation_model_zero_grad runs before each in-fit validation, not before the sanity check",
    level="de-facto",
    source=facts("§1.13", "Docs omit ... on_validation_model_zero_grad before in-fit validation"),
    docs_say=seed("002", "Hooks", "def val_loop(): on_validation_model_eval() ..."),
)
def test_zero_grad_before_in_fit_validation(target: Target) -> None:
    hooks = ("on_sanity_check_start", "on_validation_model_zero_grad", "on_validation_model_eval")
    rule = "on_validation_model_zero_grad must precede each in-fit validation (and only those)"
    check(target, TWO_EPOCHS, rule, hooks, owners=("M", "CB0"))


VAL_LOADER_CASES = {
    "with sanity check": FitConfig(max_epochs=2, val_batches=(1,)),
    "no sanity check": FitConfig(max_epochs=2, val_batches=(1,), num_sanity_val_steps=0),
    "first validation in epoch 1": FitConfig(
        max_epochs=2, val_batches=(1,), num_sanity_val_steps=0, check_val_every_n_epoch=2
    ),
}


@clause(
    "HOOK-FIT-013",
    "val_dataloader is requested once per fit: at the sanity check, else before on_train_start, "
    "else at the first validation",
    level="de-facto",
    source=facts(
        "§2.4", "in fit it is set up once in on_run_start if needed or on first validation"
    ),
    docs_say=seed("002", "Hooks", "for batch_idx, batch in enumerate(val_dataloader()):"),
)
@pytest.mark.parametrize("case", list(VAL_LOADER_CASES))
def test_val_dataloader_requested_once(target: Target, case: str) -> None:
    hooks = (
        "on_sanity_check_start", "train_dataloader", "val_dataloader", "on_train_start",
        "on_train_epoch_start", "on_validation_model_eval",
    )  # fmt: skip
    rule = f"[{case}] val_dataloader must be requested once, when first needed"
    check(target, VAL_LOADER_CASES[case], rule, hooks, owners=("M", "CB0"))
