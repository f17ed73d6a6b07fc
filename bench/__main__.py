"""``python -m bench``: every benchmark, one after the other, with their tables on stdout.

    python -m bench [--quick] [--json-dir DIR]

``--quick`` runs a small configuration (a smoke run: the numbers are not meaningful).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bench import import_time, memory, step_time


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny configuration (smoke run)")
    parser.add_argument("--json-dir", metavar="DIR", help="write <benchmark>.json files here")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory benchmark")
    args = parser.parse_args(argv)

    def json_args(name: str) -> list[str]:
        return ["--json", str(Path(args.json_dir) / f"{name}.json")] if args.json_dir else []

    print("## Step time\n")
    step_time.main(
        (["--steps", "50", "--rounds", "1"] if args.quick else []) + json_args("step_time")
    )
    print("\n## Import time\n")
    import_time.main((["--repeats", "1"] if args.quick else []) + json_args("import_time"))
    if not args.no_memory:
        print("\n## Memory\n")
        memory.main(
            (["--steps", "50", "--repeats", "1"] if args.quick else []) + json_args("memory")
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
