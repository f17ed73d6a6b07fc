"""The README's reference-trainer example runs as printed, with the reference and with Lightning."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    text = README.read_text()
    section = text.split("## The reference trainer in", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README lost its example block"
    return match.group(1)


@pytest.mark.parametrize("module", ["reference", "pytorch_lightning"])
def test_readme_example_runs(module: str, tmp_path: Path) -> None:
    if module != "reference":
        pytest.importorskip(module)
    code = readme_example()
    assert "import reference as L" in code
    code = code.replace("import reference as L", f"import {module} as L")
    # Prove it trained and the best checkpoint loads into a model that predicts well.
    code += (
        "\nbest.eval()\n"
        "with torch.no_grad():\n"
        "    err = torch.nn.functional.mse_loss(best.net(x), x.sum(dim=1, keepdim=True)).item()\n"
        "print('ERROR', err)\n"
    )
    script = tmp_path / "example.py"
    script.write_text(code)
    run = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    error = float(run.stdout.rsplit("ERROR", 1)[1])
    assert error < 1.0, f"the example did not learn (mse {error})"
    assert list(tmp_path.glob("lightning_logs/version_0/checkpoints/*.ckpt"))
