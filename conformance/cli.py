"""The ``trainspec`` command: ``certify``, ``record`` (golden hook traces), ``catalogue`` and
``report`` (certificates as Markdown)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from conformance.certify import DEFAULT_SUITE, EXIT_CANNOT_CERTIFY, CertifyOptions, certify
from conformance.selection import parse_prefixes


def _split_extra(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Arguments after a lone ``--`` go to pytest untouched."""
    argv = list(argv)
    if "--" in argv:
        at = argv.index("--")
        return argv[:at], argv[at + 1 :]
    return argv, []


def _at_least_zero(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
        return value

    return parse


def _clause_prefixes(text: str) -> str:
    try:
        parse_prefixes(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _certify_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "certify",
        help="run the clause suite against a target and print/write its certificate",
        description="Run the clause suite against a target. Exit 0: conforms; 1: a clause "
        "failed or errored undeclared, or the deviations file has problems; 2: could not "
        "certify. Arguments after '--' are passed to pytest.",
    )
    p.add_argument(
        "--target", help="target module or module:attr (default: $TRAINSPEC_TARGET or 'reference')"
    )
    p.add_argument("--json", dest="json_path", metavar="PATH", help="write the JSON certificate")
    p.add_argument("--junit", dest="junit_path", metavar="PATH", help="write JUnit XML")
    p.add_argument(
        "--deviations",
        metavar="PATH",
        help="deviations file (TOML) instead of the target's own; 'none': no file",
    )
    p.add_argument(
        "--clauses",
        type=_clause_prefixes,
        metavar="PREFIXES",
        help="comma-separated clause ID prefixes",
    )
    p.add_argument(
        "-n",
        dest="workers",
        type=_at_least_zero(int),
        metavar="N",
        help="parallel pytest-xdist workers (default: CPUs, at most 4; 0: none)",
    )
    p.add_argument(
        "--timeout",
        type=_at_least_zero(float),
        metavar="S",
        help="per-clause timeout (default 120; 0: none)",
    )
    p.add_argument(
        "--hypothesis-profile",
        metavar="NAME",
        help="trainspec-certify (default, derandomized) or trainspec-explore",
    )
    p.add_argument(
        "--suite", default=DEFAULT_SUITE, help=f"clause package (default {DEFAULT_SUITE})"
    )
    p.add_argument("--plain", action="store_true", help="plain-text report (no rich)")


def _record_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "record",
        help="record the hook trace of your LightningModule into a golden JSON file",
        description="Fit your LightningModule (wrapped in a recording subclass) under a "
        "Trainer configuration and write its hook trace as golden JSON.",
    )
    p.add_argument("--target", help="target module (default: $TRAINSPEC_TARGET or 'reference')")
    p.add_argument(
        "--model",
        required=True,
        metavar="MODULE:CLASS",
        help="your LightningModule class, e.g. my_pkg.models:MyModule",
    )
    p.add_argument(
        "--model-args",
        default="{}",
        metavar="JSON",
        help="keyword arguments for the model's constructor (JSON object)",
    )
    p.add_argument(
        "--callback",
        action="append",
        default=[],
        metavar="MODULE:CLASS",
        help="a Callback class to record too (repeatable; built without arguments)",
    )
    p.add_argument(
        "--trainer-args",
        default="{}",
        metavar="JSON",
        help="Trainer keyword arguments, e.g. '{\"max_epochs\": 1}'",
    )
    p.add_argument("--stage", default="fit", choices=["fit", "validate", "test", "predict"])
    p.add_argument("-o", "--output", required=True, metavar="PATH", help="golden JSON file")


def _catalogue_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("catalogue", help="generate the clause catalogue (Markdown)")
    p.add_argument("-o", "--output", metavar="PATH", help="write here instead of stdout")
    p.add_argument(
        "--suite", default=DEFAULT_SUITE, help=f"clause package (default {DEFAULT_SUITE})"
    )


def _report_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="render JSON certificates side by side as Markdown",
        description="Render one or more certificates written by 'trainspec certify --json' as "
        "one Markdown document (one column per certificate).",
    )
    p.add_argument("certificates", nargs="+", metavar="CERT.json")
    p.add_argument("-o", "--output", metavar="PATH", help="write here instead of stdout")
    p.add_argument("--title", default="Certification results", help="the document's title")


def build_parser() -> argparse.ArgumentParser:
    from conformance import SUITE_VERSION

    parser = argparse.ArgumentParser(
        prog="trainspec", description="Conformance suite for Lightning-style training loops."
    )
    parser.add_argument("--version", action="version", version=f"trainspec {SUITE_VERSION}")
    sub = parser.add_subparsers(dest="command", required=True)
    _certify_parser(sub)
    _record_parser(sub)
    _catalogue_parser(sub)
    _report_parser(sub)
    return parser


class _BadArgument(Exception):
    """A command-line value that cannot be used (reported in one line, exit code 2)."""


def _json_object(text: str, what: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _BadArgument(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise _BadArgument(f"{what} must be a JSON object, not {type(value).__name__}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    own, extra = _split_extra(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(own)
    if args.command == "certify":
        options = CertifyOptions(
            target=args.target, json_path=args.json_path, junit_path=args.junit_path,
            deviations=args.deviations, clauses=args.clauses, workers=args.workers,
            timeout=args.timeout, hypothesis_profile=args.hypothesis_profile,
            suite=args.suite, plain=args.plain, pytest_args=extra,
        )  # fmt: skip
        return certify(options)
    if extra:
        print(f"trainspec {args.command}: unexpected arguments {extra}", file=sys.stderr)
        return EXIT_CANNOT_CERTIFY
    if args.output:  # record, catalogue and report: refuse an unusable -o before the work
        from conformance.certificate import output_problem

        problem = output_problem(args.output)
        if problem:
            print(f"trainspec {args.command}: -o {args.output} {problem}", file=sys.stderr)
            return EXIT_CANNOT_CERTIFY
    if args.command == "record":
        from conformance.golden import record_command

        try:
            model_kwargs = _json_object(args.model_args, "--model-args")
            trainer_kwargs = _json_object(args.trainer_args, "--trainer-args")
        except _BadArgument as exc:
            print(f"trainspec record: {exc}", file=sys.stderr)
            return EXIT_CANNOT_CERTIFY
        return record_command(
            target=args.target,
            model=args.model,
            model_kwargs=model_kwargs,
            callbacks=args.callback,
            trainer_kwargs=trainer_kwargs,
            stage=args.stage,
            output=args.output,
        )
    if args.command == "report":
        return _report_command(args.certificates, args.output, args.title)
    from conformance.catalogue import catalogue_command

    return catalogue_command(suite=args.suite, output=args.output)


# What the Markdown report reads from each certificate.
_REPORTED_KEYS = (
    "target",
    "environment",
    "hypothesis",
    "duration_s",
    "summary",
    "clauses",
    "conforms",
)


def _not_a_certificate(document: object) -> str:
    if not isinstance(document, dict):
        return "not a JSON object"
    missing = [key for key in _REPORTED_KEYS if key not in document]
    return f"no {', '.join(missing)}" if missing else ""


def _report_command(paths: Sequence[str], output: str | None, title: str) -> int:
    from pathlib import Path

    from conformance import certificate, markdown

    try:
        certs = [certificate.read(path) for path in paths]
    except (OSError, json.JSONDecodeError) as exc:
        print(f"trainspec report: cannot read a certificate: {exc}", file=sys.stderr)
        return EXIT_CANNOT_CERTIFY
    for path, cert in zip(paths, certs):
        # Another JSON file (a golden trace, say) must not end in a KeyError.
        why = _not_a_certificate(cert)
        if why:
            print(
                f"trainspec report: {path} is not a trainspec certificate ({why})", file=sys.stderr
            )
            return EXIT_CANNOT_CERTIFY
    text = markdown.render(certs, title=title)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
