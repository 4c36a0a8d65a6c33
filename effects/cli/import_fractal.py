"""`slurmplan import-fractal`: a fractal-server resource (and profile) as config.json
(and profile.json); the conversion itself is compiler/importers/fractal.py.

Every change and everything not carried over goes to stderr, one line each. Bad
input exits 2 naming the file and the JSON pointer; existing files are kept
unless --force; the files appear whole or not at all.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from slurmplan.compiler.importers.fractal import FractalImportError, import_fractal
from slurmplan.effects.atomic import atomic_file
from slurmplan.effects.cli.inputs_io import InputError, read_json_objects

CONFIG_NAME, PROFILE_NAME = "config.json", "profile.json"


def register(sub: Any) -> None:
    """Add the subcommand to the parser's subparsers (`sub`)."""
    p = sub.add_parser(
        "import-fractal",
        help="turn a fractal-server resource (and profile) into config.json (and profile.json)",
        description="Convert a fractal-server resource's jobs_runner_config (and a fractal "
        "profile, with its user's project_dirs and slurm_accounts) into slurmplan's runner "
        "config (and user profile). Every change and everything not carried over is printed "
        "to stderr. See docs/fractal-import.md.",
    )
    p.add_argument("resource", metavar="RESOURCE.json", help="a fractal-server resource")
    p.add_argument("--profile", metavar="PROFILE.json", help="a fractal-server profile")
    p.add_argument(
        "--user",
        metavar="USER.json",
        help="the fractal user (as GET /auth/current-user/ gives it): its project_dirs "
        "and slurm_accounts; needed with --profile",
    )
    p.add_argument("--out", metavar="DIR", default=".", help="write the files here (default: .)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.user is not None and args.profile is None:
        raise InputError([f"{args.user}: --user goes with --profile (a user has no use alone)"])
    paths = [args.resource, *(p for p in (args.profile, args.user) if p is not None)]
    docs = dict(zip(paths, read_json_objects(paths), strict=True))
    try:
        imported = import_fractal(
            docs[args.resource],
            docs.get(args.profile) if args.profile else None,
            docs.get(args.user) if args.user else None,
        )
    except FractalImportError as error:
        files = {"resource": args.resource, "profile": args.profile or "--profile",
                 "user": args.user or "--user USER.json"}  # fmt: skip
        raise InputError(
            [f"{files[p.document]}: {p.pointer or '/'}: {p.message}" for p in error.problems]
        ) from None
    outputs = [(os.path.join(args.out, CONFIG_NAME), imported.config)]
    if imported.profile is not None:
        outputs.append((os.path.join(args.out, PROFILE_NAME), imported.profile))
    # Checked for all files before any is written: a refusal leaves nothing half done.
    existing = [path for path, _ in outputs if os.path.lexists(path)]
    if existing and not args.force:
        raise InputError([f"{path}: already exists (--force overwrites it)" for path in existing])
    _write_all(args.out, outputs)
    for line in imported.changes:
        print(f"changed: {line}", file=sys.stderr)
    for line in imported.not_carried:
        print(f"not carried: {line}", file=sys.stderr)
    for path, _ in outputs:
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _write_all(directory: str, outputs: list[tuple[str, dict[str, Any]]]) -> None:
    """Every file or none: each goes to a temporary file first, and the renames come
    only after all are written; a file renamed before a later rename failed is removed
    again if it did not exist before."""
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as error:
        raise InputError([f"{directory}: cannot be created: {error.strerror or error}"]) from None
    created: list[str] = []
    try:
        _write_nested(outputs, created)
    except OSError as error:
        for path in created:
            os.unlink(path)
        path = getattr(error, "filename", None) or directory
        raise InputError([f"{path}: cannot be written: {error.strerror or error}"]) from None


def _write_nested(outputs: list[tuple[str, dict[str, Any]]], created: list[str]) -> None:
    if not outputs:
        return
    (path, document), rest = outputs[0], outputs[1:]
    new = not os.path.lexists(path)
    with atomic_file(path) as out:
        out.write((json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
        _write_nested(rest, created)  # the later files are renamed before this one
    if new:
        created.append(path)
