"""The reference's precision values and plugins, run on the CPU.

The GradScaler path (16-mixed on an accelerator) is exercised with ``torch.amp.GradScaler("cpu")``
through ``plugins=[MixedPrecision("16-mixed", "cpu")]``: float16 autocast on the CPU with real loss
scaling, so the ordering rules (scale, unscale before ``on_before_optimizer_step`` and clipping,
skip on inf/nan) are checked here without a GPU.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader

import reference as L
from reference.precision import (
    DoublePrecision,
    HalfPrecision,
    MixedPrecision,
    Precision,
    XLAPrecision,
)
from reference.precision.utils import DefaultDtype, cast_floating_inputs
from reference.utilities.exceptions import MisconfigurationException

ALL = ["64-true", "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true"]


def _trainer(make_trainer: Any, **flags: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the alias / CPU fallback warnings are tested below
        return make_trainer(**flags)


# ---------------------------------------------------------------------------------- values
@pytest.mark.parametrize(
    ("value", "reported", "plugin"),
    [
        (None, "32-true", Precision),
        ("32-true", "32-true", Precision),
        (32, "32-true", Precision),
        ("32", "32-true", Precision),
        (64, "64-true", DoublePrecision),
        ("64", "64-true", DoublePrecision),
        ("64-true", "64-true", DoublePrecision),
        ("16-true", "16-true", HalfPrecision),
        ("bf16-true", "bf16-true", HalfPrecision),
        ("bf16-mixed", "bf16-mixed", MixedPrecision),
        ("bf16", "bf16-mixed", MixedPrecision),
        # fp16 AMP on the CPU runs as bf16 AMP (Lightning), whatever the spelling
        ("16-mixed", "bf16-mixed", MixedPrecision),
        (16, "bf16-mixed", MixedPrecision),
        ("16", "bf16-mixed", MixedPrecision),
    ],
)
def test_values_select_plugins(make_trainer: Any, value: Any, reported: str, plugin: type) -> None:
    trainer = _trainer(make_trainer, precision=value)
    assert type(trainer.precision_plugin) is plugin
    assert trainer.precision == reported
    assert trainer.scaler is None  # no GradScaler on the CPU


@pytest.mark.filterwarnings("ignore:You passed `Trainer")  # the CPU fallback of 16-mixed
@pytest.mark.parametrize(
    ("alias", "canonical"), [(16, "16-mixed"), ("16", "16-mixed"), ("bf16", "bf16-mixed")]
)
def test_discouraged_aliases_warn_naming_the_replacement(
    make_trainer: Any, alias: Any, canonical: str
) -> None:
    with pytest.warns(UserWarning, match=f"historical reasons.*{canonical} instead"):
        make_trainer(precision=alias)


@pytest.mark.parametrize("alias", [32, "32", 64, "64", "32-true"])
def test_other_values_do_not_warn(make_trainer: Any, alias: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_trainer(precision=alias)


@pytest.mark.parametrize("accelerator", ["cpu", "auto"])
def test_fp16_amp_on_cpu_warns_and_falls_back(make_trainer: Any, accelerator: str) -> None:
    with pytest.warns(UserWarning, match="Using `precision='bf16-mixed'` instead"):
        trainer = make_trainer(accelerator=accelerator, precision="16-mixed")
    assert trainer.precision == "bf16-mixed" and trainer.precision_plugin.dtype == torch.bfloat16


@pytest.mark.parametrize("value", ["8", 8, "fp16", "16-MIXED", "double", 16.0, 32.0, True, [16]])
def test_invalid_values_are_named_and_every_accepted_value_listed(
    make_trainer: Any, value: Any
) -> None:
    with pytest.raises(ValueError) as raised:
        make_trainer(precision=value)
    message = str(raised.value)
    assert repr(value) in message
    for accepted in ALL:
        assert repr(accepted) in message


def test_transformer_engine_is_refused_as_unsupported(make_trainer: Any) -> None:
    with pytest.raises(ValueError, match="not supported by the reference trainer"):
        make_trainer(precision="transformer-engine")


def test_a_bad_value_fails_before_hardware_is_probed(make_trainer: Any) -> None:
    # accelerator="cuda" would fail too (no GPU here); the precision error comes first
    with pytest.raises(ValueError, match="Precision 'x' is invalid"):
        make_trainer(accelerator="cuda", precision="x")


def test_a_plugin_and_a_value_conflict(make_trainer: Any) -> None:
    with pytest.raises(ValueError, match="Choose one"):
        make_trainer(precision="bf16-mixed", plugins=[MixedPrecision("bf16-mixed", "cpu")])
    with pytest.raises(MisconfigurationException, match="multiple precision plugins"):
        make_trainer(plugins=[Precision(), DoublePrecision()])


def test_plugin_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="'16-mixed' or 'bf16-mixed'"):
        MixedPrecision("16-true", "cpu")
    with pytest.raises(MisconfigurationException, match="does not use a scaler"):
        MixedPrecision("bf16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu"))
    with pytest.raises(ValueError, match="16-true"):
        HalfPrecision("16-mixed")
    with pytest.raises(ValueError, match="not supported on XLA devices"):
        XLAPrecision("64-true")


# ------------------------------------------------------------------- what each one does
class DtypeRecorder(L.LightningModule):
    """Records in every step: dtypes of weights, inputs, outputs; autocast; the default dtype."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 2)
        self.seen: list[dict[str, Any]] = []
        self.hooks: dict[str, Any] = {}

    def _step(self, batch: Any) -> torch.Tensor:
        x, label = batch
        out = self.layer(x)
        self.seen.append(
            {
                "weight": self.layer.weight.dtype,
                "x": x.dtype,
                "label": label.dtype,
                "out": out.dtype,
                "autocast": torch.is_autocast_enabled("cpu"),
                "default": torch.get_default_dtype(),
                "new": torch.zeros(1).dtype,
                "self.dtype": self.dtype,
                "self.precision": self.precision,
            }
        )
        return out.float().pow(2).mean()

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        return self._step(batch)

    def validation_step(self, batch: Any, batch_idx: int) -> Any:
        return self._step(batch)

    def on_before_backward(self, loss: torch.Tensor) -> None:
        self.hooks["before_backward_autocast"] = torch.is_autocast_enabled("cpu")

    def on_before_optimizer_step(self, optimizer: Any) -> None:
        self.hooks["grad"] = self.layer.weight.grad.dtype

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)


def _loader() -> DataLoader:
    x = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    return DataLoader(list(zip(x, torch.arange(4))), batch_size=2)


EXPECTED = {  # precision: (weights/inputs/default dtype, compute dtype, autocast)
    "64-true": (torch.float64, torch.float64, False),
    "32-true": (torch.float32, torch.float32, False),
    "16-true": (torch.float16, torch.float16, False),
    "bf16-true": (torch.bfloat16, torch.bfloat16, False),
    "bf16-mixed": (torch.float32, torch.bfloat16, True),
    "16-mixed": (torch.float32, torch.bfloat16, True),  # the CPU fallback
}


@pytest.mark.parametrize("precision", ALL)
def test_dtypes_inside_the_steps(make_trainer: Any, precision: str) -> None:
    storage, compute, autocast = EXPECTED[precision]
    model = DtypeRecorder()
    trainer = _trainer(
        make_trainer, precision=precision, max_epochs=1, limit_val_batches=1, num_sanity_val_steps=0
    )
    trainer.fit(model, _loader(), _loader())
    assert len(model.seen) == 3  # two training steps, one validation step
    default = storage if not autocast else torch.float32
    for step in model.seen:
        assert step == {
            "weight": storage,
            "x": storage,
            "label": torch.int64,
            "out": compute,
            "autocast": autocast,
            "default": default,
            "new": default,
            "self.dtype": storage,
            "self.precision": trainer.precision,
        }
    assert model.hooks == {"before_backward_autocast": False, "grad": storage}
    assert torch.get_default_dtype() == torch.float32  # restored after the run
    assert model.layer.weight.dtype == storage


@pytest.mark.parametrize("precision", ALL)
def test_init_module_and_configure_model(make_trainer: Any, precision: str) -> None:
    storage = EXPECTED[precision][0]
    trainer = _trainer(make_trainer, precision=precision)
    with trainer.init_module():
        layer = torch.nn.Linear(2, 2)
        assert torch.get_default_dtype() == storage
    assert layer.weight.dtype == storage and layer.weight.device.type == "cpu"
    assert torch.get_default_dtype() == torch.float32

    created: dict[str, torch.dtype] = {}

    class Configured(DtypeRecorder):
        def configure_model(self) -> None:
            created["layer"] = torch.nn.Linear(4, 2).weight.dtype

    _trainer(make_trainer, precision=precision, max_steps=1).fit(Configured(), _loader())
    assert created == {"layer": storage}


def test_default_dtype_is_restored_when_a_step_raises(make_trainer: Any) -> None:
    class Failing(DtypeRecorder):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        make_trainer(precision="64-true", max_steps=1).fit(Failing(), _loader())
    assert torch.get_default_dtype() == torch.float32


def test_default_dtype_context_nests() -> None:
    outer, inner = DefaultDtype(torch.float64), DefaultDtype(torch.float16)
    with outer:
        with inner, outer:
            assert torch.get_default_dtype() == torch.float64
        assert torch.get_default_dtype() == torch.float64
    assert torch.get_default_dtype() == torch.float32


def test_only_floating_inputs_are_cast() -> None:
    batch = {
        "x": torch.ones(2),
        "ids": torch.ones(2, dtype=torch.long),
        "mask": torch.ones(2, dtype=torch.bool),
        "name": "a",
        "pair": (torch.ones(1), 3),
    }
    cast = cast_floating_inputs(batch, torch.float16)
    assert cast["x"].dtype == torch.float16 and cast["pair"][0].dtype == torch.float16
    assert cast["ids"].dtype == torch.long and cast["mask"].dtype == torch.bool
    assert cast["name"] == "a" and cast["pair"][1] == 3


# ----------------------------------------------------------- the GradScaler path, on the CPU
class ScalerRecorder(L.LightningModule):
    """A float32 loss (finite when scaled); records losses and gradients at each hook."""

    def __init__(self, inf_at: int | None = None, manual: bool = False) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.inf_at = inf_at
        self.automatic_optimization = not manual
        self.log_: list[dict[str, Any]] = []

    def _loss(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = self.layer(batch[0]).float().pow(2).mean() * 0.01
        if batch_idx == self.inf_at:
            loss = loss * float("inf")
        self.log_.append({"loss": float(loss)})
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        if self.automatic_optimization:
            return self._loss(batch, batch_idx)
        optimizer = self.optimizers()
        optimizer.zero_grad()
        self.manual_backward(self._loss(batch, batch_idx))
        optimizer.step()
        return None

    def on_before_backward(self, loss: torch.Tensor) -> None:
        self.log_[-1]["scaled"] = float(loss)

    def _flat(self, grads: bool) -> torch.Tensor | None:
        tensors = [p.grad if grads else p.detach() for p in self.parameters()]
        if any(t is None for t in tensors):
            return None
        return torch.cat([t.flatten() for t in tensors]).clone()

    def on_after_backward(self) -> None:
        self.log_[-1]["after_backward"] = self._flat(grads=True)

    def on_before_optimizer_step(self, optimizer: Any) -> None:
        self.log_[-1]["before_step"] = self._flat(grads=True)

    def on_train_batch_end(self, *args: Any) -> None:
        self.log_[-1]["weight"] = self._flat(grads=False)

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _fp16_amp(make_trainer: Any, model: Any, **flags: Any) -> Any:
    trainer = make_trainer(
        plugins=[MixedPrecision("16-mixed", "cpu")], max_epochs=1, limit_train_batches=3, **flags
    )
    trainer.fit(model, DataLoader(torch.utils.data.TensorDataset(torch.randn(6, 4)), batch_size=2))
    return trainer


@pytest.mark.parametrize("manual", [False, True], ids=["automatic", "manual"])
def test_loss_is_scaled_and_gradients_unscaled_before_the_step_hook(
    make_trainer: Any, manual: bool
) -> None:
    model = ScalerRecorder(manual=manual)
    trainer = _fp16_amp(make_trainer, model)
    assert isinstance(trainer.scaler, torch.amp.GradScaler) and trainer.precision == "16-mixed"
    for batch in model.log_:
        scale = batch["scaled"] / batch["loss"]
        assert scale == pytest.approx(2.0**16)
        torch.testing.assert_close(
            batch["after_backward"], batch["before_step"] * scale, rtol=1e-2, atol=0
        )


def test_clipping_sees_unscaled_gradients(make_trainer: Any) -> None:
    model = ScalerRecorder()
    before = model._flat(grads=False)
    _fp16_amp(make_trainer, model, gradient_clip_val=1e-4)
    first = model.log_[0]
    grad = first["before_step"]  # unscaled, before clipping
    clipped = grad * min(1.0, 1e-4 / (float(grad.norm()) + 1e-6))
    # the update (~1e-5) is read as a difference of float32 weights of size ~0.5, whose spacing
    # is ~6e-8: that is the absolute error the difference carries (unclipped, it would be ~1e-3)
    torch.testing.assert_close(first["weight"] - before, -0.1 * clipped, rtol=2e-2, atol=1e-7)


def test_inf_gradients_skip_the_step_and_lower_the_scale(make_trainer: Any) -> None:
    model = ScalerRecorder(inf_at=1)
    trainer = _fp16_amp(make_trainer, model)
    first, infinite, last = model.log_
    assert torch.equal(first["weight"], infinite["weight"])  # the update was skipped
    assert not torch.equal(infinite["weight"], last["weight"])  # training goes on
    assert last["scaled"] / last["loss"] == pytest.approx(2.0**15)
    assert trainer.scaler.get_scale() == 2.0**15


def test_scaler_state_round_trips(make_trainer: Any) -> None:
    model = ScalerRecorder(inf_at=1)
    trainer = _fp16_amp(make_trainer, model)
    state = trainer.precision_plugin.state_dict()
    assert state["scale"] == 2.0**15
    fresh = MixedPrecision("16-mixed", "cpu")
    fresh.load_state_dict(state)
    assert fresh.scaler.get_scale() == 2.0**15
    assert MixedPrecision("bf16-mixed", "cpu").state_dict() == {}
    assert type(trainer.precision_plugin).__qualname__ == "MixedPrecision"  # the checkpoint key


def test_skipped_backward_skips_the_scaled_step(make_trainer: Any) -> None:
    class Skipping(ScalerRecorder):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            if batch_idx == 0:
                self.log_.append({"loss": None})
                return None
            return super().training_step(batch, batch_idx)

    model = Skipping()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "training_step returned None"
        trainer = _fp16_amp(make_trainer, model)
    skipped = model.log_[0]
    assert "scaled" not in skipped and skipped["before_step"] is None  # no backward, no grads
    assert trainer.scaler.get_scale() == 2.0**16 and len(model.log_) == 3


def test_lbfgs_and_fused_clipping_are_refused(make_trainer: Any) -> None:
    class WithLBFGS(ScalerRecorder):
        def configure_optimizers(self) -> Any:
            return torch.optim.LBFGS(self.parameters())

    with pytest.raises(MisconfigurationException, match="LBFGS"):
        _fp16_amp(make_trainer, WithLBFGS())

    plugin = MixedPrecision("16-mixed", "cpu")
    fused = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    fused._step_supports_amp_scaling = True  # what fused optimizers declare
    with pytest.raises(RuntimeError, match="gradient clipping is not possible"):
        plugin.clip_gradients(fused, clip_val=1.0)


# --------------------------------------------------------------------------------- XLA
@pytest.mark.parametrize(
    ("precision", "dtype"),
    [("32-true", torch.float32), ("16-true", torch.float16), ("bf16-true", torch.bfloat16)],
)
def test_xla_precision_casts_like_half_precision(precision: str, dtype: torch.dtype) -> None:
    import os

    plugin = XLAPrecision(precision)
    module = plugin.convert_module(torch.nn.Linear(2, 2))
    assert module.weight.dtype == dtype
    batch = plugin.convert_input((torch.ones(1), torch.ones(1, dtype=torch.long)))
    assert (batch[0].dtype, batch[1].dtype) == (dtype, torch.long)
    with plugin.forward_context():
        assert torch.get_default_dtype() == dtype
    assert torch.get_default_dtype() == torch.float32
    # no process-wide compiler flags (torch_xla reads them once per process; docs/xla.md)
    assert "XLA_USE_BF16" not in os.environ and "XLA_USE_F16" not in os.environ


# ----------------------------------------------------------------- LightningModule.precision
def test_module_precision_property() -> None:
    model = DtypeRecorder()
    assert model.precision == "32-true"  # no trainer: the default
    model.precision = "mine"  # a plain value the user assigns wins
    assert model.precision == "mine"

    class WithMetric(DtypeRecorder):
        def __init__(self) -> None:
            super().__init__()
            self.precision = torch.nn.Identity()  # e.g. torchmetrics.Precision()

    with_metric = WithMetric()
    assert isinstance(with_metric.precision, torch.nn.Identity)
    assert "precision" in dict(with_metric.named_children())
