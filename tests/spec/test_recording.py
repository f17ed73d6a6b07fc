"""The recorders, the event spelling and the trace helpers, on a minimal stand-in target."""

from __future__ import annotations

import enum
import inspect
from types import SimpleNamespace
from typing import Any

import pytest

from conformance.kit.recording import (
    RECORDER_STATE_KEY,
    Trace,
    recording_callback,
    recording_module,
    trace_diff,
)
from conformance.spec.hooks import MODULE_HOOKS, USER_METHODS, event, parameters, shown_arguments
from conformance.spec.trace import callbacks_first_breaches, hook_of, owner_of, project
from conformance.target import Declaration, Target


class BaseModule:
    """A target's LightningModule with only a few hooks (the rest must get neutral stand-ins)."""

    def __init__(self) -> None:
        self.log: list[str] = []

    def on_fit_start(self) -> None:
        self.log.append("base.on_fit_start")

    def transfer_batch_to_device(self, batch: Any, device: Any, dataloader_idx: int) -> Any:
        return ("moved", batch)

    def training_step(self, *args: Any) -> Any:  # the framework's default, not a user's
        raise NotImplementedError


class BaseCallback:
    def state_dict(self) -> dict[str, Any]:
        return {"own": 1}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.loaded = state_dict


FAKE = Target(
    spec="fake",
    name="fake",
    version="0",
    namespace=SimpleNamespace(),
    Trainer=object,
    LightningModule=BaseModule,
    Callback=BaseCallback,
    LightningDataModule=None,
    seed_everything=None,
    declaration=Declaration(),
)


class UserModel(BaseModule):
    def training_step(self, batch: Any, batch_idx: int) -> Any:
        self.log.append(f"user.training_step({batch_idx})")
        return {"loss": batch}


def test_records_on_entry_then_calls_super() -> None:
    trace = Trace()
    model = recording_module(FAKE, UserModel, trace)()
    model.on_fit_start()
    assert trace.events == ["M.on_fit_start()"]
    assert model.log == ["base.on_fit_start"]


def test_shown_arguments_and_return_values() -> None:
    trace = Trace()
    model = recording_module(FAKE, UserModel, trace)()
    assert model.training_step(7, 3) == {"loss": 7}
    assert model.transfer_batch_to_device("b", "cpu", 1) == ("moved", "b")
    model.optimizer_step(2, 5, "opt", None)
    model.setup(stage="fit")
    assert trace.events == [
        "M.training_step(batch_idx=3)",
        "M.transfer_batch_to_device(dataloader_idx=1)",
        "M.optimizer_step(epoch=2, batch_idx=5)",
        "M.setup(stage=fit)",
    ]


def test_hooks_missing_on_the_target_get_neutral_stand_ins() -> None:
    trace = Trace()
    model = recording_module(FAKE, UserModel, trace)()
    assert model.on_before_batch_transfer("batch", 0) == "batch"
    assert model.configure_model() is None
    assert trace.events == ["M.on_before_batch_transfer()", "M.configure_model()"]


def test_every_contract_hook_is_overridden_but_user_methods_only_when_defined() -> None:
    cls = recording_module(FAKE, UserModel, Trace())
    own = set(vars(cls))
    assert set(MODULE_HOOKS) - USER_METHODS <= own
    assert "training_step" in own  # defined by the user
    assert "validation_step" not in own and "train_dataloader" not in own
    assert "forward" not in own and "zero_grad" not in own  # nested-call noise is not recorded


def test_signatures_follow_the_contract_or_the_user() -> None:
    cls = recording_module(FAKE, UserModel, Trace())
    assert list(inspect.signature(cls.on_validation_batch_start).parameters) == [
        "self", "batch", "batch_idx", "dataloader_idx",
    ]  # fmt: skip
    assert list(inspect.signature(cls.training_step).parameters) == ["self", "batch", "batch_idx"]
    assert inspect.getfullargspec(cls.on_validation_batch_start).defaults == (0,)


def test_module_base_must_subclass_the_targets_module() -> None:
    with pytest.raises(TypeError, match="not a subclass"):
        recording_module(FAKE, object, Trace())


def test_callbacks_skip_trainer_arguments_and_are_stateful() -> None:
    trace = Trace()
    first = recording_callback(FAKE, trace, "CB0")
    second = recording_callback(FAKE, trace, "CB1")
    first.on_train_batch_start("trainer", "module", "batch", 4)
    second.on_validation_batch_end("trainer", "module", "out", "batch", 2, 1)
    state = first.state_dict()
    first.load_state_dict(state)
    assert trace.events == [
        "CB0.on_train_batch_start(batch_idx=4)",
        "CB1.on_validation_batch_end(batch_idx=2, dataloader_idx=1)",
        "CB0.state_dict()",
        "CB0.load_state_dict()",
    ]
    assert state == {"own": 1, RECORDER_STATE_KEY: "CB0"}
    assert first.loaded == {"own": 1}
    assert type(first).__qualname__ != type(second).__qualname__


def test_event_spelling() -> None:
    class Stage(str, enum.Enum):
        FITTING = "fit"

    assert event("M", "setup", stage=Stage.FITTING) == "M.setup(stage=fit)"
    assert event("CB0", "on_test_batch_end", batch_idx=1, dataloader_idx=0) == (
        "CB0.on_test_batch_end(batch_idx=1)"
    )
    assert event("M", "on_fit_start", loss=3) == "M.on_fit_start()"  # only shown arguments
    assert shown_arguments("batch, batch_idx, dataloader_idx=0", ("b",), {}) == {}
    signature = parameters("loss, *args, **kwargs")
    assert [p.kind for p in signature.parameters.values()][-2:] == [
        inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD,
    ]  # fmt: skip


def test_trace_diff_names_the_first_difference() -> None:
    text = trace_diff(["a", "b", "c"], ["a", "c"])
    assert text.startswith("traces differ at event #1: expected 'b', got 'c'")
    assert "-b" in text
    assert trace_diff(["a"], ["a"]) == "traces are equal"
    long = trace_diff([str(i) for i in range(500)], [], max_lines=10)
    assert "more diff lines" in long


def test_projection_and_owner_helpers() -> None:
    events = ["CB0.setup(stage=fit)", "M.setup(stage=fit)", "M.on_fit_start()"]
    assert owner_of(events[0]) == "CB0" and hook_of(events[0]) == "setup"
    assert project(events, hooks=("setup",), owners=("M",)) == ["M.setup(stage=fit)"]
    assert project(events) == events


def test_callbacks_first_breaches() -> None:
    good = ["CB0.on_train_start()", "CB1.on_train_start()", "M.on_train_start()"]
    module_first = ["M.on_train_start()", "CB0.on_train_start()", "CB1.on_train_start()"]
    reordered = ["CB1.on_train_start()", "CB0.on_train_start()", "M.on_train_start()"]
    hooks = {"on_train_start"}
    assert callbacks_first_breaches(good, ("CB0", "CB1"), hooks) == []
    assert len(callbacks_first_breaches(module_first, ("CB0", "CB1"), hooks)) == 3
    assert len(callbacks_first_breaches(reordered, ("CB0", "CB1"), hooks)) == 3
