"""HOOK-ACCUM and HOOK-MANUAL: the optimization hooks under gradient accumulation and manual mode.

Seed 002's ``fit_loop`` pseudocode shows one zero_grad/backward/step per batch and says nothing
about accumulation or manual optimization; these clauses pin down what Lightning 2.x does
(facts §1.5, §1.6), comparing the events of each rule with the executable spec's.
"""

from __future__ import annotations

from conformance.kit.hook_workload import record
from conformance.registry import clause, facts, seed
from conformance.spec import FitConfig, expected_trace
from conformance.spec.trace import assert_same_order
from conformance.target import Target

EVERY_BATCH = seed(
    "002",
    "Hooks",
    "for batch_idx, batch in enumerate(train_dataloader()): ... on_before_zero_grad() / "
    "optimizer_zero_grad() / on_before_backward() / backward() / on_after_backward() / "
    "on_before_optimizer_step() / configure_gradient_clipping() / optimizer_step()",
)
ACCUMULATION = facts(
    "§1.6",
    "batch 0: ... no optimizer_step hook at all; batch 1: optimizer_step ... no zero_grad; the "
    "last batch of an epoch always steps",
)
MANUAL = facts(
    "§1.5",
    "on_train_batch_start → training_step → manual_backward → on_before_backward → backward → "
    "on_after_backward → on_before_optimizer_step → on_train_batch_end",
)

# accumulate 2 over 5 batches: windows [0, 1], [2, 3], [4] (partial, still steps); two epochs,
# because windows restart with each epoch.
ACCUMULATING = FitConfig(
    max_epochs=2, train_batches=5, val_batches=(), accumulate_grad_batches=2, scheduler=None
)
MANUAL_RUN = FitConfig(
    max_epochs=2, train_batches=2, val_batches=(1,), automatic_optimization=False,
    scheduler="step",
)  # fmt: skip


def check(target: Target, config: FitConfig, rule: str, hooks: tuple[str, ...]) -> None:
    actual = record(target, config).events
    assert_same_order(expected_trace(config), actual, rule, hooks=hooks, owners=("M",))


@clause(
    "HOOK-ACCUM-001",
    "with accumulate_grad_batches=k, optimizer_step runs only on the last batch of each window "
    "of k batches and on the last batch of the epoch",
    level="de-facto",
    source=ACCUMULATION,
    docs_say=EVERY_BATCH,
)
def test_optimizer_step_at_window_end(target: Target) -> None:
    rule = (
        "optimizer_step must be called once per accumulation window (windows restart each "
        "epoch; the epoch's last batch always steps)"
    )
    check(target, ACCUMULATING, rule, ("optimizer_step", "training_step"))


@clause(
    "HOOK-ACCUM-002",
    "with accumulate_grad_batches=k, on_before_zero_grad and optimizer_zero_grad run only on the "
    "first batch of each window, after its training_step and before its backward",
    level="de-facto",
    source=(ACCUMULATION, facts("§1.4", "condition batch_idx % accumulate_grad_batches == 0")),
    docs_say=EVERY_BATCH,
)
def test_zero_grad_at_window_start(target: Target) -> None:
    hooks = ("training_step", "on_before_zero_grad", "optimizer_zero_grad", "backward")
    rule = (
        "zero_grad hooks must run only at the start of a window, between training_step and backward"
    )
    check(target, ACCUMULATING, rule, hooks)


@clause(
    "HOOK-ACCUM-003",
    "with accumulate_grad_batches=k, on_before_optimizer_step and configure_gradient_clipping run "
    "only on the batches that step the optimizer, after backward",
    level="de-facto",
    source=ACCUMULATION,
    docs_say=EVERY_BATCH,
)
def test_pre_step_hooks_only_when_stepping(target: Target) -> None:
    hooks = (
        "training_step", "on_after_backward", "on_before_optimizer_step",
        "configure_gradient_clipping", "on_train_batch_end",
    )  # fmt: skip
    rule = (
        "on_before_optimizer_step and configure_gradient_clipping must run only on stepping batches"
    )
    check(target, ACCUMULATING, rule, hooks)


@clause(
    "HOOK-ACCUM-004",
    "on_validation_model_zero_grad is skipped when validation interrupts an accumulation window",
    level="de-facto",
    source=facts(
        "§1.6",
        "on_validation_model_zero_grad is only called before in-fit validation "
        "when not mid-accumulation",
    ),
    docs_say=seed("002", "Hooks", "def val_loop(): on_validation_model_eval() ..."),
)
def test_no_val_zero_grad_mid_window(target: Target) -> None:
    config = FitConfig(
        max_epochs=1, train_batches=5, val_batches=(1,), accumulate_grad_batches=2,
        val_check_interval=1, num_sanity_val_steps=0,
    )  # fmt: skip
    hooks = ("on_train_batch_end", "on_validation_model_zero_grad", "on_validation_start")
    rule = "grads must only be cleared before validations that follow an optimizer step"
    check(target, config, rule, hooks)


@clause(
    "HOOK-MANUAL-001",
    "with manual optimization, manual_backward runs on_before_backward, backward, "
    "on_after_backward and optimizer.step() runs on_before_optimizer_step, inside training_step",
    level="de-facto",
    source=MANUAL,
    docs_say=EVERY_BATCH,
)
def test_manual_batch_order(target: Target) -> None:
    hooks = (
        "on_train_batch_start", "training_step", "on_before_backward", "backward",
        "on_after_backward", "on_before_optimizer_step", "on_train_batch_end",
    )  # fmt: skip
    rule = (
        "a manual-optimization batch must run its backward and pre-step hooks from inside "
        "training_step, in this order"
    )
    check(target, MANUAL_RUN, rule, hooks)


@clause(
    "HOOK-MANUAL-002",
    "with manual optimization the trainer calls no optimizer_step, optimizer_zero_grad, "
    "on_before_zero_grad, configure_gradient_clipping or lr_scheduler_step",
    level="de-facto",
    source=facts(
        "§1.5",
        "In manual mode Lightning never calls optimizer_step, "
        "optimizer_zero_grad, on_before_zero_grad, configure_gradient_clipping, nor "
        "lr_scheduler_step",
    ),
    docs_say=EVERY_BATCH,
)
def test_manual_leaves_optimization_to_the_user(target: Target) -> None:
    hooks = (
        "training_step", "optimizer_step", "optimizer_zero_grad", "on_before_zero_grad",
        "configure_gradient_clipping", "lr_scheduler_step",
    )  # fmt: skip
    rule = (
        "in manual optimization the trainer must not call the automatic optimization hooks "
        "(even with a step-interval scheduler configured)"
    )
    check(target, MANUAL_RUN, rule, hooks)
