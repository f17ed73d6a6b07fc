"""Import time of the reference and Lightning over ``import torch``, in fresh interpreters.

Each sample is a new Python process that times ``import torch`` and then ``import <module>``
(``time.perf_counter`` around each statement), so the second number is exactly what the module
adds on top of torch. Modules are interleaved (reference, Lightning, reference, ...) and the
medians reported. ``--breakdown`` lists the modules that cost the most (``python -X importtime``).

    python bench/import_time.py [--repeats 21] [--json results.json] [--breakdown]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

if __package__ in (None, ""):  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import REPO, machine_info  # noqa: E402
from bench.report import markdown_table, median, write_json  # noqa: E402

MODULES = ("reference", "pytorch_lightning")
_CHILD = """\
import json, time
start, start_cpu = time.perf_counter(), time.process_time()
import torch
torch_done, torch_done_cpu = time.perf_counter(), time.process_time()
import {module}
done, done_cpu = time.perf_counter(), time.process_time()
print(json.dumps([torch_done - start, done - torch_done, done_cpu - torch_done_cpu]))
"""


class ChildFailed(RuntimeError):
    pass


def child_env() -> dict[str, str]:
    """The environment of a measured interpreter: ours, with bytecode caching as Python's default.

    With ``PYTHONDONTWRITEBYTECODE`` set (some CI images and containers set it), an editable
    install such as trainspec's has no ``__pycache__`` and is compiled from source on every
    import, while site-packages (torch, Lightning) were compiled at install time; that would
    compare compilation with loading. The first, unmeasured import writes the cache.
    """
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


class ImportSample(NamedTuple):
    """Seconds, in one fresh interpreter: ``import torch`` (wall), then ``import <module>``
    after it (wall, and process CPU time).
    """

    torch_s: float
    module_s: float
    module_cpu_s: float


def time_one_import(module: str, python: str = sys.executable) -> ImportSample:
    """Time ``import torch`` then ``import module`` in a new process."""
    completed = subprocess.run(
        [python, "-c", _CHILD.format(module=module)],
        cwd=REPO,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if completed.returncode:
        raise ChildFailed(f"`import {module}` failed:\n{completed.stderr.strip()[-2000:]}")
    return ImportSample(*json.loads(completed.stdout.strip().splitlines()[-1]))


def installed(module: str) -> bool:
    try:
        time_one_import(module)
    except ChildFailed:
        return False
    return True


def run(
    repeats: int = 21,
    modules: Sequence[str] = MODULES,
    on_repeat: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    # the first import of each also warms the bytecode caches and the OS page cache
    present = [module for module in modules if installed(module)]
    samples: dict[str, list[ImportSample]] = {module: [] for module in present}
    for index in range(repeats):
        for module in present:
            samples[module].append(time_one_import(module))
        if on_repeat is not None:
            on_repeat(index)
    torch_all = [sample.torch_s for runs in samples.values() for sample in runs]
    return {
        "benchmark": "import_time",
        "config": {
            "repeats": repeats,
            "modules": present,
            "missing_modules": [m for m in modules if m not in present],
        },
        "machine": machine_info(),
        "torch_ms": median(torch_all) * 1e3 if torch_all else None,
        "results": [
            {
                "module": module,
                "samples": len(runs),
                "over_torch_ms": median([s.module_s for s in runs]) * 1e3,
                "over_torch_ms_min": min(s.module_s for s in runs) * 1e3,
                "over_torch_cpu_ms": median([s.module_cpu_s for s in runs]) * 1e3,
                "torch_ms": median([s.torch_s for s in runs]) * 1e3,
            }
            for module, runs in samples.items()
        ],
    }


def breakdown(module: str, top: int = 15) -> list[tuple[int, int, str]]:
    """The ``top`` slowest imports that ``import module`` adds after torch, by cumulative µs:
    ``(self_us, cumulative_us, name)``, from one ``python -X importtime`` run.
    """
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import torch; import {module}"],
        cwd=REPO,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if completed.returncode:
        raise ChildFailed(f"`import {module}` failed:\n{completed.stderr.strip()[-2000:]}")
    rows: list[tuple[int, int, str]] = []
    after_torch = False
    for line in completed.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, cumulative_us, name = (part.strip() for part in line[12:].split("|"))
        if not self_us.isdigit():
            continue  # the header line
        if after_torch:
            rows.append((int(self_us), int(cumulative_us), name))
        elif name == "torch":
            after_torch = True
    return sorted(rows, key=lambda row: row[1], reverse=True)[:top]


def format_results(results: dict[str, Any]) -> str:
    rows = [
        [
            f"`import {row['module']}`",
            f"{row['over_torch_ms']:.1f}",
            f"{row['over_torch_ms_min']:.1f}",
            f"{row['over_torch_cpu_ms']:.1f}",
            f"{row['torch_ms']:.0f}",
        ]
        for row in results["results"]
    ]
    table = markdown_table(
        [
            "import",
            "ms over torch (median)",
            "ms over torch (min)",
            "CPU ms over torch (median)",
            "torch itself, ms (median)",
        ],
        rows,
    )
    notes = f"{results['config']['repeats']} fresh interpreters per module, interleaved"
    if results["config"]["missing_modules"]:
        notes += f"; not installed: {', '.join(results['config']['missing_modules'])}"
    return table + "\n\n" + notes


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=21, help="processes per module")
    parser.add_argument("--modules", default=",".join(MODULES), help="comma-separated modules")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--breakdown", action="store_true", help="list the slowest imports each module adds"
    )
    args = parser.parse_args(argv)
    modules = [m for m in args.modules.split(",") if m]
    results = run(
        args.repeats,
        modules,
        on_repeat=lambda i: print(f"repeat {i + 1}/{args.repeats} done", file=sys.stderr),
    )
    print(format_results(results))
    if args.breakdown:
        for module in results["config"]["modules"]:
            rows = [
                [name, f"{cumulative / 1e3:.1f}", f"{own / 1e3:.1f}"]
                for own, cumulative, name in breakdown(module)
            ]
            print(f"\nslowest imports under `import {module}` (one run, after torch):\n")
            print(markdown_table(["module", "cumulative ms", "self ms"], rows))
    if args.json:
        write_json(results, args.json)
    return results


if __name__ == "__main__":
    main()
