"""``trainspec certify``: run the clause suite against a target and report.

The suite runs in a child ``python -m pytest`` process, isolated from the caller's pytest set-up:
its own ini file and rootdir, no cache provider, no plugins but trainspec's own, pytest-timeout,
hypothesis and (with ``-n``) pytest-xdist, and no ``PYTEST_ADDOPTS``. The child's working
directory stays the caller's, so an adapter module in the caller's project is importable. The
plugin writes the JSON certificate; this module reads it, prints the report and applies the exit
rule:

- ``0``: the target conforms (nothing failed or errored undeclared; the deviations file is sound);
- ``1``: it does not;
- ``2``: it could not be certified (the target does not load, a bad deviations file, nothing
  selected, a clause prefix that matches no clause, pytest itself failed).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from conformance import certificate as certificates
from conformance.report import print_report
from conformance.session import NO_DEVIATIONS
from conformance.target import ENV_VAR, resolve_spec

DEFAULT_SUITE = "conformance.clauses"
EXIT_CONFORMS, EXIT_DOES_NOT_CONFORM, EXIT_CANNOT_CERTIFY = 0, 1, 2
MAX_DEFAULT_WORKERS = 4
USAGE_ERROR = 4  # pytest's exit code for a usage error (how the plugin reports a bad target)

_INI = """\
# Written by trainspec certify: the clause suite runs with these settings only.
[pytest]
python_files = test_*.py
python_functions = test_*
xfail_strict = false
junit_family = xunit1
junit_suite_name = trainspec
"""


@dataclass
class CertifyOptions:
    target: str | None = None
    json_path: str | None = None
    junit_path: str | None = None
    deviations: str | None = None
    clauses: str | None = None
    workers: int | None = None
    timeout: float | None = None
    hypothesis_profile: str | None = None
    suite: str = DEFAULT_SUITE
    plain: bool = False
    pytest_args: list[str] = field(default_factory=list)


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def suite_location(suite: str) -> tuple[Path, Path]:
    """``(package directory, rootdir)`` of a suite package (rootdir holds its top package)."""
    try:
        spec = importlib.util.find_spec(suite)
    except (ImportError, ValueError) as exc:
        raise ValueError(f"cannot find the clause suite {suite!r}: {exc}") from exc
    if spec is None:
        raise ValueError(f"cannot find the clause suite {suite!r}: no such package")
    if not spec.submodule_search_locations:
        raise ValueError(f"the clause suite {suite!r} is a module, not a package")
    package = Path(next(iter(spec.submodule_search_locations))).resolve()
    return package, package.parents[len(suite.split(".")) - 1]


def pytest_command(options: CertifyOptions, ini: Path, json_path: Path) -> list[str]:
    """The child pytest command line for ``options``."""
    package, rootdir = suite_location(options.suite)
    workers = default_workers() if options.workers is None else options.workers
    command = [
        sys.executable, "-m", "pytest",
        "--pyargs", options.suite,
        "-c", str(ini),
        "--rootdir", str(rootdir),
        "--confcutdir", str(package),
        "-p", "no:cacheprovider",
        "-p", "conformance.plugin",
        "-p", "pytest_timeout",
        "--tb=short",
        "--disable-warnings",  # a target's warnings are not the certificate's business
        "--trainspec-target", resolve_spec(options.target),
        "--trainspec-json", str(json_path),
        "--trainspec-no-summary",
    ]  # fmt: skip
    if _have("_hypothesis_pytestplugin"):
        command += ["-p", "_hypothesis_pytestplugin"]
    if workers > 0 and _have("xdist"):
        command += ["-p", "xdist.plugin", "-n", str(workers)]
    optional = {
        "--trainspec-clauses": options.clauses,
        "--trainspec-deviations": _deviations_argument(options),
        "--trainspec-timeout": None if options.timeout is None else f"{options.timeout:g}",
        "--trainspec-hypothesis-profile": options.hypothesis_profile,
        "--junitxml": options.junit_path and str(Path(options.junit_path).resolve()),
    }
    for flag, value in optional.items():
        if value:
            command += [flag, value]
    return command + list(options.pytest_args)


def _deviations_argument(options: CertifyOptions) -> str | None:
    if options.deviations:
        if options.deviations == NO_DEVIATIONS:
            return NO_DEVIATIONS
        return str(Path(options.deviations).resolve())
    if options.suite != DEFAULT_SUITE:
        # A target's own deviations file declares deviations from the real suite; another suite
        # gets none unless --deviations names a file for it.
        return NO_DEVIATIONS
    return None


def child_environment(spec: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only the plugins named on the command line
    env[ENV_VAR] = spec
    return env


def _say(message: str) -> None:
    sys.stderr.write(f"trainspec certify: {message}\n")
    sys.stderr.flush()


def _no_certificate(returncode: int, command: list[str]) -> str:
    """Why the child wrote no certificate, and what to do about it."""
    if returncode == USAGE_ERROR:
        return "could not start (see the error above); no certificate"
    if returncode < 0:
        ended = f"was killed by signal {-returncode}"
    else:
        ended = f"exited with code {returncode}"
    message = f"pytest {ended} and wrote no certificate"
    if returncode not in range(6) and "xdist.plugin" not in command:  # not one of pytest's
        # Without xdist a target that ends the process (os._exit, a segfault) ends the run too.
        message += (
            "; if the target crashed the test process, certify with -n 1 or more: then only a "
            "worker is lost and that clause is errored"
        )
    return message


def shadowing_package(cwd: Path) -> Path | None:
    """A ``conformance`` package or module of the caller's that the child would import instead of
    trainspec's: the child (and each xdist worker) puts its working directory first on sys.path."""
    ours = Path(__file__).resolve().parent
    for candidate in (cwd / "conformance", cwd / "conformance.py"):
        is_package = (candidate / "__init__.py").exists() or candidate.suffix == ".py"
        if candidate.exists() and is_package and candidate.resolve() != ours:
            return candidate
    return None


def certify(options: CertifyOptions) -> int:
    """Run the suite; print the report; return the exit code (see the module docstring)."""
    spec = resolve_spec(options.target)
    shadow = shadowing_package(Path.cwd())
    if shadow is not None:
        _say(
            f"{shadow} would be imported instead of trainspec's own 'conformance' package; run "
            "trainspec certify from another directory (with your adapter on PYTHONPATH)"
        )
        return EXIT_CANNOT_CERTIFY
    for flag, value in (("--json", options.json_path), ("--junit", options.junit_path)):
        problem = certificates.output_problem(value) if value else None
        if problem:
            _say(f"{flag} {value} {problem}")
            return EXIT_CANNOT_CERTIFY
    with tempfile.TemporaryDirectory(prefix="trainspec-certify-") as tmp:
        ini = Path(tmp) / "pytest.ini"
        ini.write_text(_INI, encoding="utf-8")
        json_path = Path(options.json_path or Path(tmp) / "certificate.json").resolve()
        if json_path.exists():
            json_path.unlink()  # a stale certificate must never pass for this run's
        try:
            command = pytest_command(options, ini, json_path)
        except ValueError as exc:
            _say(str(exc))
            return EXIT_CANNOT_CERTIFY
        sys.stdout.flush()
        completed = subprocess.run(command, env=child_environment(spec), check=False)
        if not json_path.exists():
            _say(_no_certificate(completed.returncode, command))
            return EXIT_CANNOT_CERTIFY
        certificate = certificates.read(json_path)
    print()
    print_report(certificate, plain=options.plain)
    unmatched = certificate["selection"].get("unmatched_prefixes") or []
    if unmatched:
        _say(f"clause prefix(es) {', '.join(unmatched)} match no clause of {options.suite}")
        return EXIT_CANNOT_CERTIFY
    if certificate["summary"]["total"] == 0:
        _say(f"no clause of {options.suite} was selected")
        return EXIT_CANNOT_CERTIFY
    if options.json_path:
        print(f"certificate: {json_path}")
    return EXIT_CONFORMS if certificate["conforms"] else EXIT_DOES_NOT_CONFORM
