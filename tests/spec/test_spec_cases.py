"""The executable spec on hand-computed cases from the facts file (§1.3, §1.6, §2.4, §2.5)."""

from __future__ import annotations

import pytest

from conformance.spec import EvalConfig, FitConfig, InvalidConfig, evaluate, fit
from conformance.spec.trace import project

# ---- §1.3: the observed entry-order fit trace --------------------------------------------------
# max_epochs=1, 2 train batches, 2 val batches, one callback, epoch-interval scheduler. The facts
# list is for a model that does not override the conditional hooks; a recorder overrides them, so
# prepare_data, configure_model and on_validation_model_train appear (facts §0, §1.12). The
# nested calls (forward, zero_grad, train, clip_gradients) are not hooks.

VAL_BATCH = [
    "M.on_before_batch_transfer()",
    "M.transfer_batch_to_device()",
    "M.on_after_batch_transfer()",
    "CB0.on_validation_batch_start(batch_idx={i})",
    "M.on_validation_batch_start(batch_idx={i})",
    "M.validation_step(batch_idx={i})",
    "CB0.on_validation_batch_end(batch_idx={i})",
    "M.on_validation_batch_end(batch_idx={i})",
]
VAL_LOOP = [
    "M.on_validation_model_eval()",
    "CB0.on_validation_start()",
    "M.on_validation_start()",
    "CB0.on_validation_epoch_start()",
    "M.on_validation_epoch_start()",
    *[line.format(i=0) for line in VAL_BATCH],
    *[line.format(i=1) for line in VAL_BATCH],
    "CB0.on_validation_epoch_end()",
    "M.on_validation_epoch_end()",
    "CB0.on_validation_end()",
    "M.on_validation_end()",
    "M.on_validation_model_train()",
]


def train_batch(i: int, *, last: bool) -> list[str]:
    return [
        "M.on_before_batch_transfer()",
        "M.transfer_batch_to_device()",
        "M.on_after_batch_transfer()",
        f"CB0.on_train_batch_start(batch_idx={i})",
        f"M.on_train_batch_start(batch_idx={i})",
        f"M.optimizer_step(epoch=0, batch_idx={i})",
        f"M.training_step(batch_idx={i})",
        "CB0.on_before_zero_grad()",
        "M.on_before_zero_grad()",
        f"M.optimizer_zero_grad(epoch=0, batch_idx={i})",
        "CB0.on_before_backward()",
        "M.on_before_backward()",
        "M.backward()",
        "CB0.on_after_backward()",
        "M.on_after_backward()",
        "CB0.on_before_optimizer_step()",
        "M.on_before_optimizer_step()",
        "M.configure_gradient_clipping()",
        *(["M.lr_scheduler_step()"] if last else []),
        f"CB0.on_train_batch_end(batch_idx={i})",
        f"M.on_train_batch_end(batch_idx={i})",
    ]


FACTS_1_3 = [
    "M.configure_callbacks()",
    "M.prepare_data()",
    "CB0.setup(stage=fit)",
    "M.setup(stage=fit)",
    "M.configure_model()",
    "M.configure_optimizers()",
    "CB0.on_fit_start()",
    "M.on_fit_start()",
    "CB0.on_sanity_check_start()",
    "M.val_dataloader()",
    *VAL_LOOP,
    "CB0.on_sanity_check_end()",
    "M.train_dataloader()",
    "CB0.on_train_start()",
    "M.on_train_start()",
    "CB0.on_train_epoch_start()",
    "M.on_train_epoch_start()",
    *train_batch(0, last=False),
    *train_batch(1, last=True),
    "M.on_validation_model_zero_grad()",
    *VAL_LOOP,
    "CB0.on_train_epoch_end()",
    "M.on_train_epoch_end()",
    "CB0.on_train_end()",
    "M.on_train_end()",
    "CB0.on_fit_end()",
    "M.on_fit_end()",
    "CB0.teardown(stage=fit)",
    "M.teardown(stage=fit)",
]


def test_fit_trace_of_facts_1_3() -> None:
    assert fit(FitConfig(max_epochs=1, train_batches=2, val_batches=(2,))) == FACTS_1_3


# ---- §1.6: gradient accumulation ---------------------------------------------------------------


def test_accumulation_trace_of_facts_1_6() -> None:
    config = FitConfig(max_epochs=1, train_batches=3, val_batches=(), accumulate_grad_batches=2)
    backward = [
        "CB0.on_before_backward()",
        "M.on_before_backward()",
        "M.backward()",
        "CB0.on_after_backward()",
        "M.on_after_backward()",
    ]
    zero_grad = ["CB0.on_before_zero_grad()", "M.on_before_zero_grad()"]
    pre_step = ["CB0.on_before_optimizer_step()", "M.on_before_optimizer_step()",
                "M.configure_gradient_clipping()"]  # fmt: skip
    batch_end = ["CB0.on_train_batch_end(batch_idx={})", "M.on_train_batch_end(batch_idx={})"]
    expected = [
        # batch 0: no optimizer_step hook at all
        "M.training_step(batch_idx=0)", *zero_grad, "M.optimizer_zero_grad(epoch=0, batch_idx=0)",
        *backward, *[line.format(0) for line in batch_end],
        # batch 1: steps, no zero_grad
        "M.optimizer_step(epoch=0, batch_idx=1)", "M.training_step(batch_idx=1)", *backward,
        *pre_step, *[line.format(1) for line in batch_end],
        # batch 2: last, partial window: zero_grad and a step, then the epoch scheduler
        "M.optimizer_step(epoch=0, batch_idx=2)", "M.training_step(batch_idx=2)", *zero_grad,
        "M.optimizer_zero_grad(epoch=0, batch_idx=2)", *backward, *pre_step,
        "M.lr_scheduler_step()", *[line.format(2) for line in batch_end],
    ]  # fmt: skip
    trace = fit(config)
    start = trace.index("M.training_step(batch_idx=0)")
    end = trace.index("M.on_train_batch_end(batch_idx=2)") + 1
    got = [line for line in trace[start:end] if "transfer" not in line and "_start" not in line]
    assert got == expected


def test_upstream_train_loop_system_accumulate_3() -> None:
    """facts §1.6: 5 batches / accumulate 3 → [ts zg bwd] [ts bwd] [step ts bwd] [ts zg bwd]
    [step ts bwd]."""
    config = FitConfig(max_epochs=1, train_batches=5, val_batches=(), accumulate_grad_batches=3)
    hooks = ("optimizer_step", "training_step", "optimizer_zero_grad", "backward")
    short = [line.partition(".")[2].partition("(")[0] for line in project(fit(config), hooks)]
    assert short == [
        "training_step", "optimizer_zero_grad", "backward",
        "training_step", "backward",
        "optimizer_step", "training_step", "backward",
        "training_step", "optimizer_zero_grad", "backward",
        "optimizer_step", "training_step", "backward",
    ]  # fmt: skip


# ---- §2.4: when validation runs during fit -----------------------------------------------------


def validation_points(trace: list[str]) -> list[tuple[int, int]]:
    """(epoch, batch_idx) of the training batch each in-fit validation follows."""
    points, epoch, last_batch = [], -1, None
    for line in trace:
        if line == "M.on_train_epoch_start()":
            epoch += 1
        elif line.startswith("M.on_train_batch_end("):
            last_batch = int(line.split("batch_idx=")[1].rstrip(")"))
        elif line == "M.on_validation_start()" and epoch >= 0:
            points.append((epoch, last_batch))
    return points


TABLE_2_4 = [
    (1.0, 1, [(0, 9), (1, 9)]),
    (0.3, 1, [(0, 2), (0, 5), (0, 8), (1, 2), (1, 5), (1, 8)]),
    (0.25, 1, [(e, b) for e in (0, 1) for b in (1, 3, 5, 7, 9)]),
    (3, 1, [(0, 2), (0, 5), (0, 8), (1, 2), (1, 5), (1, 8)]),
    (0.5, 2, [(1, 4), (1, 9)]),
]


@pytest.mark.parametrize(("interval", "every", "points"), TABLE_2_4)
def test_validation_points_of_facts_2_4(interval: float, every: int, points: list) -> None:
    config = FitConfig(
        max_epochs=2, train_batches=10, val_batches=(1,), val_check_interval=interval,
        check_val_every_n_epoch=every,
    )  # fmt: skip
    assert validation_points(fit(config)) == points


@pytest.mark.parametrize("accumulate", [1, 2])
def test_every_n_batches_across_epochs(accumulate: int) -> None:
    """check_val_every_n_epoch=None: interval 3 over 4-batch epochs → total batches 3, 6, 9, 12
    (counted in batches, not optimizer steps)."""
    config = FitConfig(
        max_epochs=3, train_batches=4, val_batches=(1,), val_check_interval=3,
        check_val_every_n_epoch=None, accumulate_grad_batches=accumulate,
    )  # fmt: skip
    assert validation_points(fit(config)) == [(0, 2), (1, 1), (2, 0), (2, 3)]


def test_no_forced_validation_on_last_epoch() -> None:
    """n=2, max_epochs=5 → validations after epochs 1 and 3 only."""
    config = FitConfig(max_epochs=5, train_batches=2, val_batches=(1,), check_val_every_n_epoch=2)
    assert validation_points(fit(config)) == [(1, 1), (3, 1)]


# ---- §2.5: the sanity check --------------------------------------------------------------------


def sanity_steps(trace: list[str]) -> list[str]:
    start = trace.index("CB0.on_sanity_check_start()")
    end = trace.index("CB0.on_sanity_check_end()")
    return [line for line in trace[start:end] if line.startswith("M.validation_step")]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (None, ["(batch_idx=0)", "(batch_idx=1)", "(batch_idx=0, dataloader_idx=1)"]),
        (1, ["(batch_idx=0)", "(batch_idx=0, dataloader_idx=1)"]),
        (
            -1,
            ["(batch_idx=0)", "(batch_idx=1)", "(batch_idx=2)", "(batch_idx=0, dataloader_idx=1)"],
        ),
    ],  # fmt: skip
)
def test_sanity_check_batches_per_loader(steps: int | None, expected: list[str]) -> None:
    config = FitConfig(val_batches=(3, 1), num_sanity_val_steps=steps)
    assert sanity_steps(fit(config)) == [f"M.validation_step{args}" for args in expected]


def test_sanity_check_ignores_check_val_every_n_epoch() -> None:
    trace = fit(FitConfig(max_epochs=1, check_val_every_n_epoch=3))
    assert "CB0.on_sanity_check_start()" in trace
    assert trace.count("M.on_validation_start()") == 1  # the sanity check's, none in-fit


@pytest.mark.parametrize(
    "config",
    [
        FitConfig(num_sanity_val_steps=0),
        FitConfig(limit_val_batches=0),
        FitConfig(val_batches=()),
    ],
    ids=["num_sanity_val_steps=0", "limit_val_batches=0", "no validation"],
)
def test_no_sanity_check(config: FitConfig) -> None:
    assert not any("sanity" in line for line in fit(config))


# ---- §2.3, §2.10: stopping and limits ----------------------------------------------------------


def test_max_epochs_zero_requests_train_loader_but_trains_nothing() -> None:
    trace = fit(FitConfig(max_epochs=0, val_batches=()))
    assert "M.train_dataloader()" in trace
    assert not any("on_train_start" in line or "training_step" in line for line in trace)


def test_limit_train_batches_zero_skips_train_loader() -> None:
    trace = fit(FitConfig(limit_train_batches=0, val_batches=()))
    assert not any("train_dataloader" in line or "on_train_start" in line for line in trace)
    assert trace[-1] == "M.teardown(stage=fit)"


def test_max_steps_ends_the_epoch_early() -> None:
    trace = fit(FitConfig(max_epochs=3, max_steps=3, train_batches=2, val_batches=()))
    steps = [line for line in trace if line.startswith("M.optimizer_step")]
    assert steps == [
        "M.optimizer_step(epoch=0, batch_idx=0)",
        "M.optimizer_step(epoch=0, batch_idx=1)",
        "M.optimizer_step(epoch=1, batch_idx=0)",
    ]
    assert trace.count("M.on_train_epoch_end()") == 2


def test_float_limit_is_floored_per_loader() -> None:
    config = FitConfig(val_batches=(3, 2), limit_val_batches=0.5, num_sanity_val_steps=0)
    assert config.val_loader_batches == [1, 1]


# ---- validate / test / predict -----------------------------------------------------------------


def test_predict_has_no_model_train_hook() -> None:
    trace = evaluate(EvalConfig("predict", batches=(1,)))
    assert "M.on_predict_model_eval()" in trace
    assert not any("model_train" in line for line in trace)


def test_eval_entry_point_outline() -> None:
    trace = evaluate(EvalConfig("test", batches=(1,), callbacks=()))
    assert trace == [
        "M.configure_callbacks()", "M.prepare_data()", "M.setup(stage=test)",
        "M.configure_model()", "M.test_dataloader()", "M.on_test_model_eval()",
        "M.on_test_start()", "M.on_test_epoch_start()", "M.on_before_batch_transfer()",
        "M.transfer_batch_to_device()", "M.on_after_batch_transfer()",
        "M.on_test_batch_start(batch_idx=0)", "M.test_step(batch_idx=0)",
        "M.on_test_batch_end(batch_idx=0)", "M.on_test_epoch_end()", "M.on_test_end()",
        "M.on_test_model_train()", "M.teardown(stage=test)",
    ]  # fmt: skip


# ---- configurations Lightning refuses ----------------------------------------------------------

INVALID = {
    "manual with accumulation": FitConfig(automatic_optimization=False, accumulate_grad_batches=2),
    "float interval with every=None": FitConfig(
        val_check_interval=0.5, check_val_every_n_epoch=None
    ),
    "int interval longer than the epoch": FitConfig(train_batches=2, val_check_interval=3),
    "float limit below one batch": FitConfig(train_batches=1, limit_train_batches=0.5),
    "float val limit below one batch": FitConfig(val_batches=(1,), limit_val_batches=0.5),
    "train forever": FitConfig(max_epochs=-1, max_steps=-1),
    "resume without remaining epochs": FitConfig(max_epochs=1, resumed_from_epochs=1),
    "resume with max_steps": FitConfig(max_epochs=2, max_steps=3, resumed_from_epochs=1),
    "unknown callback kind": FitConfig(callbacks=("fancy",)),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_configurations_raise(name: str) -> None:
    with pytest.raises(InvalidConfig):
        fit(INVALID[name])


def test_interval_longer_than_epoch_is_fine_without_validation_limit() -> None:
    fit(FitConfig(train_batches=2, val_check_interval=3, limit_val_batches=0))
    fit(FitConfig(train_batches=2, val_check_interval=3, check_val_every_n_epoch=None))
