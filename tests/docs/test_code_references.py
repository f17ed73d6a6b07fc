"""The docs that map the documented pseudocode to the reference's code name files, functions and
classes; a refactor that moves one must update the docs, or a newcomer follows a dead link.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# the guides for certifying and golden traces name the user's own example files: not checked
DOCS = (
    "docs/pseudocode-to-code.md",
    "docs/reference-guide.md",
    "docs/architecture.md",
    "docs/device-matrix.md",
    "docs/xla.md",
    "docs/benchmarks.md",
    "docs/guides/writing-clauses.md",
)

# `trainer/run.py: Trainer._run`, `reference/trainer/data.py`, `EvaluationLoop._on_run_start`
FILE_AND_SYMBOL = re.compile(r"`((?:[\w.]+/)*\w+\.py)(?:: ([A-Za-z_][\w.]*))?`?")
CLASS_MEMBER = re.compile(r"`([A-Z]\w+)\.(_?[a-z]\w*)`")


PACKAGES = ("reference", "conformance", "tests", "fixtures", "bench")


def _resolve(path: str) -> Path | None:
    for base in (ROOT, *(ROOT / package for package in PACKAGES)):
        if (base / path).is_file():
            return base / path
    if "/" not in path:  # a table row's sibling file ("`trainer/trainer.py`, `run.py`")
        for package in PACKAGES:
            found = next((ROOT / package).rglob(path), None)
            if found is not None:
                return found
    return None


def _defines(source: str, name: str) -> bool:
    """``name`` is a function, class, property, module constant or instance attribute there."""
    pattern = rf"^\s*(?:async\s+)?(?:def|class)\s+{name}\b|^{name}\s*[:=]|self\.{name}\s*[:=]"
    return re.search(pattern, source, re.M) is not None


def dead_references(text: str, sources: dict[str, str]) -> list[str]:
    """Every code reference in ``text`` that names a missing file or an undefined symbol."""
    dead = []
    for match in FILE_AND_SYMBOL.finditer(text):
        path, symbol = match.groups()
        file = _resolve(path)
        if file is None:
            dead.append(f"no file {path}")
        elif symbol and not _defines(file.read_text(), symbol.split(".")[-1]):
            dead.append(f"{path}: {symbol} is not defined there")
    everything = "\n".join(sources.values())
    for match in CLASS_MEMBER.finditer(text):
        cls, member = match.groups()
        if not re.search(rf"^\s*class {cls}\b", everything, re.M):
            continue  # a class of torch or Lightning, not ours
        if not _defines(everything, member):
            dead.append(f"{cls}.{member} is not defined")
    return dead


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    files = [*(ROOT / "reference").rglob("*.py"), *(ROOT / "conformance").rglob("*.py")]
    return {str(p): p.read_text() for p in files}


@pytest.mark.parametrize("doc", DOCS)
def test_code_named_in_the_docs_exists(doc: str, sources: dict[str, str]) -> None:
    assert dead_references((ROOT / doc).read_text(), sources) == []


def test_a_moved_function_is_reported(sources: dict[str, str]) -> None:
    text = (
        "| `trainer/run.py: Trainer._run` | `trainer/run.py: Trainer._gone` |"
        " `trainer/nowhere.py` | `FitLoop.run` | `FitLoop._vanished` | `Tensor.backward` |"
    )
    assert dead_references(text, sources) == [
        "trainer/run.py: Trainer._gone is not defined there",
        "no file trainer/nowhere.py",
        "FitLoop._vanished is not defined",
    ]
