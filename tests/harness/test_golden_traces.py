"""Golden hook traces: the API against real Lightning, and the guide's example run verbatim."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pl = pytest.importorskip("pytorch_lightning")

from conformance.golden import (  # noqa: E402
    GoldenTraceMismatch,
    assert_hook_trace_matches,
    record_trace,
)

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "guides" / "golden-traces.md"
FLAGS = {"max_epochs": 1, "limit_train_batches": 2}


def _module_class() -> type:
    import torch
    from torch.utils.data import DataLoader

    class Tiny(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            return self.layer(batch).sum()

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

        def train_dataloader(self) -> Any:
            return DataLoader(torch.ones(4, 2), batch_size=1)

    return Tiny


class Noting(pl.Callback):
    pass


def test_recording_sees_module_and_callback_hooks_in_entry_order() -> None:
    model, callback = _module_class()(), Noting()
    events = record_trace("pytorch_lightning", model, FLAGS, callbacks=[callback])
    assert events[0] == "M.configure_callbacks()"
    start = events.index("CB0.on_train_batch_start(batch_idx=1)")
    assert events[start : start + 4] == [
        "CB0.on_train_batch_start(batch_idx=1)",
        "M.on_train_batch_start(batch_idx=1)",
        "M.optimizer_step(epoch=0, batch_idx=1)",
        "M.training_step(batch_idx=1)",
    ]
    assert "M.training_step(batch_idx=2)" not in events  # limit_train_batches=2
    # the caller's objects are left as they were
    assert type(model).__name__ == "Tiny" and type(callback) is Noting


def test_other_stages_and_datamodules_are_recorded() -> None:
    import torch
    from torch.utils.data import DataLoader

    class Data(pl.LightningDataModule):
        def val_dataloader(self) -> Any:
            return DataLoader(torch.ones(2, 2), batch_size=1)

    class Validating(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def validation_step(self, batch: Any, batch_idx: int) -> Any:
            return self.layer(batch).sum()

    data = Data()
    events = record_trace("pytorch_lightning", Validating, {}, datamodule=data, stage="validate")
    assert "DM.val_dataloader()" in events and "M.validation_step(batch_idx=1)" in events
    assert events[-2:] == ["DM.teardown(stage=validate)", "M.teardown(stage=validate)"]
    assert type(data) is Data
    with pytest.raises(ValueError, match="stage must be one of"):
        record_trace("pytorch_lightning", Validating, {}, stage="tune")


def test_a_golden_file_is_written_then_matched(tmp_path: Path) -> None:
    golden = tmp_path / "golden" / "tiny.json"
    written = assert_hook_trace_matches(_module_class(), FLAGS, golden, update=True,
                                        target="pytorch_lightning")  # fmt: skip
    document = json.loads(golden.read_text())
    assert document["events"] == written
    assert document["trainer_kwargs"] == FLAGS and document["stage"] == "fit"
    assert document["target"]["spec"] == "pytorch_lightning"
    assert assert_hook_trace_matches(_module_class(), FLAGS, golden, target="pytorch_lightning")


def test_a_changed_trace_fails_with_a_unified_diff(tmp_path: Path) -> None:
    golden = tmp_path / "tiny.json"
    assert_hook_trace_matches(_module_class(), FLAGS, golden, True, target="pytorch_lightning")

    class WithValidation(_module_class()):  # type: ignore[misc]
        def validation_step(self, batch: Any, batch_idx: int) -> Any:
            return self.layer(batch).sum()

        def val_dataloader(self) -> Any:
            return self.train_dataloader()

    with pytest.raises(GoldenTraceMismatch) as caught:
        assert_hook_trace_matches(WithValidation(), FLAGS, golden, target="pytorch_lightning")
    message = str(caught.value)
    assert "the hook trace of" in message and "WithValidation changed" in message
    assert f"--- golden {golden}" in message and "+++ recorded now" in message
    assert "\n+M.validation_step(batch_idx=0)" in message
    assert re.search(r"traces differ at event #\d+: expected '.*', got 'M.val_dataloader\(\)'",
                     message)  # fmt: skip


def test_a_missing_or_foreign_golden_file_is_explained(tmp_path: Path) -> None:
    with pytest.raises(GoldenTraceMismatch, match="does not exist; record it with pytest "
                       "--trainspec-update-golden"):  # fmt: skip
        assert_hook_trace_matches(_module_class(), FLAGS, tmp_path / "none.json",
                                  target="pytorch_lightning")  # fmt: skip
    golden = tmp_path / "g.json"
    assert_hook_trace_matches(_module_class(), FLAGS, golden, True, target="pytorch_lightning")
    other = {"max_epochs": 2, "limit_train_batches": 2}
    with pytest.raises(GoldenTraceMismatch, match="was recorded with trainer_kwargs="):
        assert_hook_trace_matches(_module_class(), other, golden, target="pytorch_lightning")
    golden.write_text('{"not": "a golden file"}')
    with pytest.raises(ValueError, match="has no 'events' list"):
        assert_hook_trace_matches(_module_class(), FLAGS, golden, target="pytorch_lightning")


def _examples(text: str) -> dict[str, str]:
    """The guide's code blocks marked ``<!-- example: NAME -->``, by name."""
    pattern = re.compile(r"<!-- example: (\S+) -->\n```\w*\n(.*?)```", re.DOTALL)
    return {name: body for name, body in pattern.findall(text)}


def _shell(command: str) -> list[str]:
    import shlex

    words = shlex.split(command.replace("\\\n", " "))
    if words[0] == "trainspec":
        return [sys.executable, "-m", "conformance.cli", *words[1:]]
    assert words[:3] == ["python", "-m", "pytest"], words
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *words[3:]]


def test_the_guide_example_runs_as_written(tmp_path: Path) -> None:
    examples = _examples(GUIDE.read_text(encoding="utf-8"))
    files = {name: body for name, body in examples.items() if "/" in name}
    assert set(files) == {"my_pkg/__init__.py", "my_pkg/models.py", "tests/test_hook_traces.py"}
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)

    def run(block: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), "HOME": str(tmp_path)}
        return subprocess.run(_shell(examples[block]), cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300, check=False)  # fmt: skip

    recorded = run("command")
    assert recorded.returncode == 0, recorded.stderr
    golden = json.loads((tmp_path / "golden" / "mymodule.json").read_text())
    assert "CB0.on_train_batch_end(batch_idx=1)" in golden["events"]
    assert f"wrote {len(golden['events'])} hook events" in recorded.stdout

    assert run("test-command").returncode == 0

    models = tmp_path / "my_pkg" / "models.py"
    models.write_text(models.read_text().replace(
        "    def configure_optimizers(self):",
        "    def validation_step(self, batch, batch_idx):\n"
        "        return self.training_step(batch, batch_idx)\n\n"
        "    def val_dataloader(self):\n"
        "        return self.train_dataloader()\n\n"
        "    def configure_optimizers(self):",
    ))  # fmt: skip
    changed = run("test-command")
    assert changed.returncode == 1
    assert "+M.validation_step(batch_idx=0)" in changed.stdout
    # the failure shows the user's call and the diff, not trainspec's own source
    assert "def assert_hook_trace_matches" not in changed.stdout, changed.stdout
    assert "def check(" not in changed.stdout, changed.stdout

    assert run("update-command").returncode == 0
    events = json.loads((tmp_path / "golden" / "mymodule.json").read_text())["events"]
    assert "M.validation_step(batch_idx=0)" in events


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "no_such_pkg.models:M"], "ModuleNotFoundError: No module named 'no_such_pkg'"),
        (["--model", "fixtures.harness.targets.stub"], "--model must look like"),
        (["--model", "x:Y", "--trainer-args", "[1]"], "--trainer-args must be a JSON object"),
        (["--model", "x:Y", "--trainer-args", "{"], "--trainer-args is not valid JSON"),
    ],
)
def test_the_record_command_explains_bad_arguments(
    tmp_path: Path, args: list[str], message: str
) -> None:
    stub = "fixtures.harness.targets.stub"
    out = str(tmp_path / "g.json")
    command = [
        sys.executable,
        "-m",
        "conformance.cli",
        "record",
        "--target",
        stub,
        *args,
        "-o",
        out,
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "g.json").exists()


def _record(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "conformance.cli", "record", "--target", "pytorch_lightning",
               *args]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(cwd)])}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_an_error_in_the_recorded_run_shows_where_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "buggy_models.py").write_text(
        "import pytorch_lightning as pl\n"
        "class Buggy(pl.LightningModule):\n"
        "    def train_dataloader(self):\n"
        "        return [0, 1]\n"
        "    def configure_optimizers(self):\n"
        "        return None\n"
        "    def training_step(self, batch, batch_idx):\n"
        "        raise RuntimeError('bug in my training_step')\n"
    )
    out = tmp_path / "g.json"
    done = _record(tmp_path, "--model", "buggy_models:Buggy", "--trainer-args",
                   '{"max_epochs": 1}', "-o", str(out))  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "buggy_models.py" in done.stderr  # the traceback points at the user's code
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        "trainspec record: fit of buggy_models:Buggy under pytorch_lightning raised RuntimeError: "
        "bug in my training_step; no golden file written"
    ), done.stderr
    assert not out.exists()


def test_an_output_that_is_a_directory_is_refused_before_the_run(tmp_path: Path) -> None:
    done = _record(tmp_path, "--model", "no_such_pkg.models:M", "-o", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip() == f"trainspec record: -o {tmp_path} is a directory; name a file"
