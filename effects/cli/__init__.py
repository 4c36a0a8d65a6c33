"""The `slurmplan` command line: its parser and main; compile, show, check (run-time: run_commands).

Exit status: 0 done (check: no difference); 1 check found differences;
2 bad input or a file that cannot be read or written, with one problem per line
on stderr and never a traceback.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Sequence
from importlib import metadata

from slurmplan.compiler import CompileError, Plan, Source, compile_plan
from slurmplan.compiler.plan import PRIVATE_MODE, script_bytes
from slurmplan.effects.atomic import FILE_MODE, atomic_file, write_atomic
from slurmplan.effects.cli import golden, guarded_stdout, picture, report, review, run_commands
from slurmplan.effects.cli.inputs_io import InputError, one_line, problem_lines, read_json_objects
from slurmplan.effects.cli.plan_files import load_plan, write_plan
from slurmplan.effects.cli.show import summary, summary_json

EXIT_OK, EXIT_DIFFERENT, EXIT_BAD_INPUT = 0, 1, 2


def _version() -> str:
    try:
        return metadata.version("slurmplan")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _cmd_compile(args: argparse.Namespace) -> int:
    raw = read_json_objects([args.config, args.profile, args.tasks])
    try:
        plan = compile_plan(*raw)
    except CompileError as error:
        files = {Source.CONFIG: args.config, Source.PROFILE: args.profile,
                 Source.TASKS: args.tasks}  # fmt: skip
        raise InputError(problem_lines(error, files)) from None
    for warning in plan.warnings:  # also in the plan; said here so that no one misses them
        group = "" if warning.group is None else f"group {warning.group}: "
        print(one_line(f"warning: {group}{warning.message}"), file=sys.stderr)
    if args.scripts_to is not None:
        _write_scripts(plan, args.scripts_to)
    # In pieces as it is encoded: the text of a large plan is never whole in memory.
    if args.output is None or args.output == "-":
        write_plan(plan, sys.stdout.write)
    else:
        try:
            with atomic_file(args.output, PRIVATE_MODE) as out:
                write_plan(plan, lambda piece: out.write(piece.encode("ascii")))
        except OSError as error:
            raise _cannot_write(args.output, error) from None
    return EXIT_OK


def _cannot_write(path: str, error: OSError) -> InputError:
    return InputError([f"{path}: cannot be written: {error.strerror or error}"])


def _write(path: str, data: bytes, mode: int = FILE_MODE, *, durable: bool = True) -> None:
    try:
        write_atomic(path, data, mode, durable=durable)
    except OSError as error:
        raise _cannot_write(path, error) from None


def _write_scripts(plan: Plan, directory: str) -> None:
    """Every job's script as DIR/<basename>: what a submission by hand needs."""
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as error:
        raise InputError([f"{directory}: cannot be created: {error.strerror or error}"]) from None
    for job in plan.jobs:
        path = os.path.join(directory, os.path.basename(job.script_path))
        # not fsync'd: run compile again after a crash
        _write(path, script_bytes(job.script), PRIVATE_MODE, durable=False)


def _cmd_show(args: argparse.Namespace) -> int:
    plan = load_plan(args.plan)
    if args.svg is not None or args.html is not None:
        drawn = picture.svg(plan)
        page = picture.html(f"slurmplan plan {plan.name}", drawn)
        for path, text in ((args.svg, drawn), (args.html, page)):
            if path is not None:
                _write(path, text.encode("utf-8"), durable=False)
                print(f"wrote {path}: {len(plan.jobs)} jobs as rows, their lanes as tracks")
        return EXIT_OK
    if args.json:
        sys.stdout.write(json.dumps(summary_json(plan), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(summary(plan, unfold=args.all))
    return EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    plan = load_plan(args.plan)
    if args.update:
        try:
            lines = golden.update(plan, args.golden)
        except golden.UpdateFailed as error:
            raise InputError([f"{args.golden}: {error}"]) from None
        except OSError as error:  # putting scripts/ back failed too: say what is known
            raise InputError([f"{args.golden}: cannot be updated: {error.strerror}"]) from None
        for line in lines:
            print(line)
        return EXIT_OK
    if os.path.exists(args.golden) and not os.path.isdir(args.golden):
        raise InputError([f"{args.golden}: is a file, not a folder of golden files"])
    if not os.path.isdir(args.golden):
        # Every file would be new: a diff of all of them says nothing more than this.
        print(f"golden folder {args.golden} does not exist; create it with: slurmplan check "
              f"{args.plan} --golden {args.golden} --update")  # fmt: skip
        return EXIT_DIFFERENT
    differences = golden.compare(plan, args.golden)
    if not differences:
        return EXIT_OK
    for line in review.summary_lines(differences, args.golden):
        print(line)
    if not args.summary:
        print()
        for difference in differences:
            sys.stdout.write(difference.diff)
    return EXIT_DIFFERENT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slurmplan",
        description="Compile (runner config, user profile, task list) into a SLURM "
        "submission plan, inspect it, keep golden files of it, and carry it out "
        "(submit, status, wait, cancel, collect, fetch, report).",
        epilog="exit status: 0 ok; 1 check found differences, wait: a task did not "
        "succeed, fetch: files missing or tasks not ended in this run; 2 bad input; "
        "3 a command failed for good, the plan was cancelled, jobs of the plan queued "
        "that the journal does not record, or the journal lost; 4 wait --timeout passed; "
        "130 interrupted; 141 standard output closed (docs/effects.md)",
    )
    parser.add_argument("--version", action="version", version=f"slurmplan {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("compile", help="compile the three inputs into a plan (JSON)")
    p.add_argument("--config", required=True, metavar="C", help="runner config (JSON)")
    p.add_argument("--profile", required=True, metavar="P", help="user profile (JSON)")
    p.add_argument("--tasks", required=True, metavar="T", help="task list (JSON)")
    p.add_argument("-o", "--output", metavar="PLAN", help="write the plan here (default: stdout)")
    p.add_argument("--scripts-to", metavar="DIR", help="also write every job's script into DIR")
    p.set_defaults(run=_cmd_compile)

    p = sub.add_parser("show", help="a readable summary: groups, jobs, resources, warnings")
    p.add_argument("plan", metavar="PLAN", help="a plan written by `slurmplan compile`")
    p.add_argument("--all", action="store_true", help="list every job (default: fold past 8)")
    p.add_argument("--json", action="store_true", help="the same as JSON, every job listed")
    p.add_argument(
        "--svg", metavar="FILE", help="draw the jobs, their lanes and tasks into FILE (SVG)"
    )
    p.add_argument("--html", metavar="FILE", help="the same picture as a self-contained HTML page")
    p.set_defaults(run=_cmd_show)

    p = sub.add_parser("check", help="diff a plan against golden files (exit 1 if they differ)")
    p.add_argument("plan", metavar="PLAN", help="a plan written by `slurmplan compile`")
    p.add_argument(
        "--golden",
        required=True,
        metavar="DIR",
        help="folder with plan.json and scripts/ (other files there are ignored)",
    )
    p.add_argument("--update", action="store_true", help="rewrite DIR to match the plan")
    p.add_argument(
        "--summary", action="store_true", help="print the summary of the changes, not the diff"
    )
    p.set_defaults(run=_cmd_check)

    run_commands.register(sub)
    report.register(sub)
    from slurmplan.effects.cli import import_fractal  # noqa: PLC0415 (its one line in this module)

    import_fractal.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Messages and diffs may hold any text of the inputs; never fail printing them.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    return guarded_stdout.run(lambda: _main(argv), failed_exit=EXIT_BAD_INPUT)


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except InputError as error:
        for line in error.lines:
            print(line, file=sys.stderr)
        return EXIT_BAD_INPUT
    return status
