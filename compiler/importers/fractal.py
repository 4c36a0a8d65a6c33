"""A fractal-server resource (and profile) as slurmplan's runner config (and profile).

Pure: parsed JSON in; the config, the profile, and two lists of human lines out:
every change made on the way and everything that could not be carried over.
Input fractal-server itself would refuse raises FractalImportError with every
problem found, each naming its document and JSON pointer. docs/fractal-import.md
says what maps to what and why.

What fractal-server does, as read in its source (fractal_server/runner/...):
- memory: `slurm_mem_to_MB` reads "100M" as 100, "3G" as 3000, "1T" as 1000000
  (case-sensitive, no "B" suffix; an integer is taken as MB) and the job asks
  `--mem=<MB>M`, which Slurm reads as MiB: the same number of MiB is what
  batching and the script then see here;
- extra lines come after the config's own `#SBATCH` lines, so an extra line
  setting an option that has a field wins over that field;
- a GPU config replaces the default's keys it sets, explicit nulls included;
- `user_local_exports` are joined to `<project_dirs[0]>/fractal/.fractal_cache`
  with pathlib (so an absolute value stays as it is).
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from slurmplan.compiler.compile import compile_plan
from slurmplan.compiler.errors import CompileError, SlurmplanError, pointer
from slurmplan.compiler.package_files import schema
from slurmplan.compiler.slurm.directives import FIELD_OPTIONS, OWNED_OPTIONS
from slurmplan.compiler.slurm.extra_lines import SBATCH_PREFIX, directive_problem
from slurmplan.compiler.slurm.sbatch_options import SHORT_OPTIONS, resolve_long_option

# fractal-server's SlurmConfigSet: every key its default/GPU config may have.
FRACTAL_SLURM_KEYS = (
    "partition", "cpus_per_task", "mem", "constraint", "gres", "exclude", "nodelist", "nodes",
    "time", "account", "extra_lines", "gpus", "shebang_line", "use_mem_per_cpu",
)  # fmt: skip
FRACTAL_RUNNER_KEYS = (
    "default_slurm_config", "gpu_slurm_config", "batching_config", "user_local_exports",
)  # fmt: skip
BATCHING_KEYS = (
    "target_cpus_per_job", "max_cpus_per_job", "target_mem_per_job", "max_mem_per_job",
    "target_num_jobs", "max_num_jobs",
)  # fmt: skip
TRANSPORTS = {"slurm_sudo": "sudo", "slurm_ssh": "ssh"}
FRACTAL_CACHE_SUBDIR = "fractal/.fractal_cache"  # fractal-server's FRACTAL_CACHE_DIR
FRACTAL_SHEBANG = "#!/bin/sh"
# fractal (Fabric) keeps no known_hosts setting; slurmplan checks the host key, against
# the file OpenSSH itself reads system-wide unless told otherwise.
SYSTEM_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"

# Options the compiler writes itself whose value is one job-wide value of a field, as in
# fractal: an extra line setting them becomes that field.
_JOB_WIDE_OPTIONS = {"partition": "partition", "time": "time"}
# Options the compiler works out per job from per-task fields: fractal batched by its
# fields while Slurm took the extra line, which no field here can say.
_BATCHED_OPTIONS = {"mem": "mem", "mem-per-cpu": "mem", "cpus-per-task": "cpus_per_task"}
_MEM_UNITS_MB = {"M": 1, "G": 1000, "T": 1000**2}
# A GPU config's explicit null replaces the default's value for these keys; fractal
# applies `mem` only when set, and refuses null for the others.
_GPU_NULL_CLEARS = frozenset(FRACTAL_SLURM_KEYS) - {
    "mem", "extra_lines", "shebang_line", "use_mem_per_cpu",
}  # fmt: skip

_RESOURCE_NOT_CARRIED = {
    "name": "a label in fractal-server's database",
    "id": "fractal-server's database record",
    "timestamp_created": "fractal-server's database record",
    "jobs_slurm_python_worker": "slurmplan runs each task's argv with srun; no Python "
    "worker wraps it",
    "jobs_poll_interval": "slurmplan's status and wait poll on their own schedule "
    "(docs/effects.md)",
    "prevent_new_submissions": "slurmplan has no server that could stop new submissions",
}
_TASK_COLLECTION = "installing tasks (task collection) is not slurmplan's business"
_PROFILE_NOT_CARRIED = {
    "name": "a label in fractal-server's database",
    "id": "fractal-server's database record",
    "resource_id": "fractal-server's database record",
    "tasks_remote_dir": _TASK_COLLECTION,
    "pixi_cache_dir": _TASK_COLLECTION,
}
_SSH_ONLY = ("ssh_key_path", "jobs_remote_dir")

_DIRECTIVE = re.compile(r"#SBATCH[ \t]+(?:--(?P<long>[^\s=]+)|-(?P<short>[A-Za-z]))(?P<rest>.*)")


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportProblem:
    """One thing fractal-server itself would refuse, or slurmplan cannot start from."""

    document: str  # "resource", "profile" or "user"
    pointer: str
    message: str


class FractalImportError(SlurmplanError):
    """The inputs are not a fractal-server resource/profile/user; every problem at once."""

    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            "\n".join(f"{p.document}: {p.pointer or '/'}: {p.message}" for p in self.problems)
        )


class Imported(NamedTuple):
    config: dict[str, Any]
    profile: dict[str, Any] | None
    changes: tuple[str, ...]  # one line per change made
    not_carried: tuple[str, ...]  # one line per thing left behind, with why


def json_word(value: object) -> str:
    """A value as JSON writes it (null, true, "text"), cut short for messages."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Report:
    def __init__(self) -> None:
        self.changes: list[str] = []
        self.not_carried: list[str] = []
        self.problems: list[ImportProblem] = []

    def change(self, document: str, path: tuple[str | int, ...], text: str) -> None:
        self.changes.append(f"{document}: {pointer(*path) or '/'}: {text}")

    def skip(self, document: str, path: tuple[str | int, ...], text: str) -> None:
        self.not_carried.append(f"{document}: {pointer(*path) or '/'}: {text}")

    def bad(self, document: str, path: tuple[str | int, ...], expected: str, got: str) -> None:
        message = f"expected {expected} (got {got})"
        self.problems.append(
            ImportProblem(document=document, pointer=pointer(*path), message=message)
        )


def _pattern(node: Any) -> re.Pattern[str] | None:
    """The whole-string pattern of a schema node (None: the schema no longer says)."""
    if isinstance(node, Mapping):
        if isinstance(node.get("pattern"), str):
            return re.compile(node["pattern"])
        for key in ("allOf", "anyOf", "oneOf"):
            for branch in node.get(key, ()):
                found = _pattern(branch)
                if found is not None:
                    return found
    return None


def _matches(node: Any, text: str) -> bool:
    regex = _pattern(node)
    # The schemas' patterns are anchored with ^...$; $ would also pass a trailing newline.
    return regex is None or (regex.search(text) is not None and "\n" not in text)


def _got(document: Mapping[str, Any], key: str) -> str:
    """What a document holds at `key`, for "(got ...)"."""
    return json_word(document[key]) if key in document else f"no {key!r}"


def _config_defs() -> Mapping[str, Any]:
    defs: Mapping[str, Any] = schema("runner_config").get("$defs", {})
    return defs


def import_fractal(resource: Any, profile: Any = None, user: Any = None) -> Imported:
    """slurmplan's (config, profile or None, changes, not carried) from fractal-server's
    resource (or its `jobs_runner_config` alone), profile and user (`project_dirs`,
    `slurm_accounts`); FractalImportError when they are not what fractal-server accepts."""
    report = _Report()
    config = _config(resource, report, with_profile=profile is not None)
    new_profile = None
    if profile is not None:
        new_profile = _profile(profile, user, resource, report)
    elif user is not None:
        report.skip("user", (), "a user goes with a profile: pass the profile too")
    if report.problems:
        raise FractalImportError(report.problems)
    report.not_carried.extend(_compile_problems(config, new_profile))
    return Imported(config, new_profile, tuple(report.changes), tuple(report.not_carried))


# --- the runner config ------------------------------------------------------------


def _config(resource: Any, report: _Report, *, with_profile: bool) -> dict[str, Any]:
    doc = "resource"
    if not isinstance(resource, Mapping):
        report.bad(doc, (), "a JSON object", json_word(resource))
        return {}
    if "jobs_runner_config" in resource:
        base: tuple[str, ...] = ("jobs_runner_config",)
        runner = resource["jobs_runner_config"]
        kind = resource.get("type")
        if kind == "local":
            report.bad(
                doc,
                ("type",),
                '"slurm_sudo" or "slurm_ssh" (a local resource runs no SLURM jobs)',
                json_word(kind),
            )
        elif kind is not None and kind not in TRANSPORTS:
            report.bad(doc, ("type",), '"slurm_sudo" or "slurm_ssh"', json_word(kind))
    elif "default_slurm_config" in resource:  # a jobs_runner_config on its own
        base, runner = (), resource
    else:
        report.bad(
            doc,
            ("jobs_runner_config",),
            "a fractal-server resource with a SLURM 'jobs_runner_config' (or that config alone)",
            "no 'jobs_runner_config'",
        )
        return {}
    if not isinstance(runner, Mapping):
        report.bad(doc, base, "a JSON object (fractal's SLURM runner config)", json_word(runner))
        return {}
    config: dict[str, Any] = {}
    for key in runner:
        if key not in FRACTAL_RUNNER_KEYS:
            report.bad(
                doc,
                (*base, key),
                "a key of fractal's SLURM runner config (" + ", ".join(FRACTAL_RUNNER_KEYS) + ")",
                json_word(key),
            )
    default = runner.get("default_slurm_config")
    if not isinstance(default, Mapping):
        report.bad(
            doc,
            (*base, "default_slurm_config"),
            "a JSON object",
            _got(runner, "default_slurm_config"),
        )
        default = {}
    config["default_slurm_config"], from_lines = _slurm_config(
        default, (*base, "default_slurm_config"), report
    )
    for key in ("partition", "cpus_per_task", "mem"):
        if key not in config["default_slurm_config"]:
            report.skip(
                doc,
                (*base, "default_slurm_config", key),
                "unset: fractal takes it from each task's meta; slurmplan needs a "
                "default: set it in config.json",
            )
    if "shebang_line" not in config["default_slurm_config"]:
        report.skip(
            doc,
            (*base, "default_slurm_config", "shebang_line"),
            f"unset: fractal's default {FRACTAL_SHEBANG} is not carried; slurmplan's "
            "job scripts default to #!/bin/bash",
        )
    gpu = runner.get("gpu_slurm_config")
    if gpu is None and "gpu_slurm_config" in runner:
        report.change(doc, (*base, "gpu_slurm_config"), "null dropped (no GPU config)")
    elif gpu is not None:
        if isinstance(gpu, Mapping):
            config["gpu_slurm_config"], _ = _slurm_config(
                gpu, (*base, "gpu_slurm_config"), report, default=default
            )
            _lost_with_default_lines(gpu, config, from_lines, base, report)
        else:
            report.bad(doc, (*base, "gpu_slurm_config"), "a JSON object or null", json_word(gpu))
    config["batching_config"] = _batching(
        runner.get("batching_config"), base, report, present="batching_config" in runner
    )
    exports = runner.get("user_local_exports")
    if exports is None and "user_local_exports" in runner:
        report.change(doc, (*base, "user_local_exports"), "null dropped (no exports)")
    elif exports is not None:
        _exports(exports, (*base, "user_local_exports"), config, report)
    if base:
        _resource_fields(resource, config, report, with_profile=with_profile)
    return config


def _slurm_config(
    raw: Mapping[str, Any],
    where: tuple[str, ...],
    report: _Report,
    default: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], set[str]]:
    """A fractal slurm config as slurmplan's, and the fields its extra lines set."""
    doc = "resource"
    out: dict[str, Any] = {}
    for key, value in raw.items():
        path = (*where, key)
        if key not in FRACTAL_SLURM_KEYS:
            report.bad(
                doc,
                path,
                "a key of fractal's slurm config (" + ", ".join(FRACTAL_SLURM_KEYS) + ")",
                json_word(key),
            )
        elif value is None:
            if default is not None and key in _GPU_NULL_CLEARS and default.get(key) is not None:
                report.skip(
                    doc,
                    path,
                    f"null: fractal clears the default's {key!r} for GPU "
                    "tasks; slurmplan's gpu_slurm_config cannot clear a default's "
                    f"field, so GPU jobs get the default's {json_word(default[key])}",
                )
            else:
                report.change(doc, path, "null dropped (unset)")
        elif key == "mem":
            mem = _mem_mb(value, path, report)
            if mem is not None:
                out["mem"] = mem
        elif key != "extra_lines":
            out[key] = value
    from_lines: set[str] = set()
    lines = raw.get("extra_lines")
    if lines is not None:
        out["extra_lines"] = _extra_lines(lines, (*where, "extra_lines"), out, from_lines, report)
    return out, from_lines


def _mem_mb(value: Any, path: tuple[str | int, ...], report: _Report) -> int | None:
    """fractal's memory in MB (its slurm_mem_to_MB rule), reported when it was text."""
    expected = 'a positive integer of MB or text such as "100M", "8G", "1T" (fractal: G = 1000 MB)'
    if isinstance(value, bool) or not isinstance(value, int | str):
        report.bad("resource", path, expected, json_word(value))
        return None
    if isinstance(value, int):
        if value < 1:
            report.bad("resource", path, expected, json_word(value))
            return None
        return value
    mb: int | None = None
    if value.isascii() and value.isdigit():
        mb = int(value)
    elif value[:1].isdigit() and value[-1] in _MEM_UNITS_MB:
        number = value.rstrip(value[-1])  # fractal strips the unit letter: "8GG" is 8G
        if number.isascii() and number.isdigit():
            mb = int(number) * _MEM_UNITS_MB[value[-1]]
    if mb is None or mb < 1:
        report.bad("resource", path, expected, json_word(value))
        return None
    report.change(
        "resource",
        path,
        f"{json_word(value)} -> {mb}: fractal reads it as {mb} MB (G = 1000 MB) and gives "
        "Slurm MB as M, which Slurm reads as MiB; the same number keeps batching and each "
        "job's --mem as fractal had them",
    )
    return mb


def _sbatch_option(line: str) -> tuple[str, str] | None:
    """(sbatch's long option, its value) of an `#SBATCH` line naming one option."""
    match = _DIRECTIVE.fullmatch(line.strip())
    if match is None:
        return None
    long_name, short, rest = match.group("long"), match.group("short"), match.group("rest")
    if short is not None:
        if short not in SHORT_OPTIONS:
            return None
        name, value = SHORT_OPTIONS[short], rest
    else:
        meanings = resolve_long_option(long_name)
        if len(meanings) != 1:
            return None
        name, value = meanings[0], rest[1:] if rest.startswith("=") else rest
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    else:
        value = value.split("#", 1)[0].strip()  # sbatch: an unquoted '#' starts a comment
    return name, value


def _extra_lines(
    lines: Any,
    where: tuple[str, ...],
    out: dict[str, Any],
    from_lines: set[str],
    report: _Report,
) -> list[str]:
    doc = "resource"
    if not isinstance(lines, list):
        report.bad(doc, where, "a list of lines", json_word(lines))
        return []
    kept: list[str] = []
    for index, text in enumerate(lines):
        path: tuple[str | int, ...] = (*where, index)
        if not isinstance(text, str):
            report.bad(doc, path, "a line of text", json_word(text))
            continue
        pieces = text.splitlines()
        if len(pieces) != 1:
            report.change(
                doc,
                path,
                f"{json_word(text)}: split into its {len(pieces)} lines "
                "(fractal writes it as they are), blank ones dropped",
            )
        for line in pieces:
            if not line.strip():
                continue
            if not line.startswith(SBATCH_PREFIX):
                kept.append(line)
                continue
            parsed = _sbatch_option(line)
            name = parsed[0] if parsed else None
            field = FIELD_OPTIONS.get(name or "") or _JOB_WIDE_OPTIONS.get(name or "")
            if parsed is not None and field is not None:
                value = parsed[1]
                if not value or any(c.isspace() for c in value):
                    report.skip(
                        doc,
                        path,
                        f"{json_word(line)}: not one value slurmplan can "
                        f"put in {field!r}: left out",
                    )
                    continue
                earlier = out.get(field)
                note = ""
                if earlier is not None and earlier != value:
                    note = f", replacing {json_word(earlier)} (Slurm takes the later line)"
                out[field] = value
                from_lines.add(field)
                report.change(
                    doc, path, f"{json_word(line)} -> {field!r}: {json_word(value)}{note}"
                )
            elif name in _BATCHED_OPTIONS:
                report.skip(
                    doc,
                    path,
                    f"{json_word(line)}: left out: fractal batched tasks by "
                    f"{_BATCHED_OPTIONS[name]!r} while Slurm took this line for the "
                    f"job; slurmplan writes --{name} itself from "
                    f"{_BATCHED_OPTIONS[name]!r}: set that field instead",
                )
            elif name in OWNED_OPTIONS:
                report.skip(
                    doc, path, f"{json_word(line)}: left out: slurmplan writes --{name} itself"
                )
            else:
                problem = directive_problem(line)
                if problem is None:
                    kept.append(line)
                else:
                    report.skip(doc, path, f"left out: {problem}")
    return kept


def _lost_with_default_lines(
    gpu: Mapping[str, Any],
    config: dict[str, Any],
    from_lines: set[str],
    base: tuple[str, ...],
    report: _Report,
) -> None:
    """In fractal a GPU config's extra_lines replace the default's, and with them what
    the default's #SBATCH lines set; here those lines became fields, which GPU jobs
    inherit unless the GPU config sets them too."""
    if gpu.get("extra_lines") is None:
        return
    for field in sorted(from_lines - set(config["gpu_slurm_config"])):
        report.skip(
            "resource",
            (*base, "gpu_slurm_config", "extra_lines"),
            f"fractal's GPU jobs lost the default's extra line setting {field!r}; "
            f"here GPU jobs inherit the default's {field!r}: set it in "
            "gpu_slurm_config to change that",
        )


def _batching(raw: Any, base: tuple[str, ...], report: _Report, *, present: bool) -> dict[str, Any]:
    doc, where = "resource", (*base, "batching_config")
    if not isinstance(raw, Mapping):
        report.bad(
            doc, where, "a JSON object", json_word(raw) if present else "no 'batching_config'"
        )
        return {}
    out: dict[str, Any] = {}
    for key in raw:
        if key not in BATCHING_KEYS:
            report.bad(doc, (*where, key), "one of " + ", ".join(BATCHING_KEYS), json_word(key))
    for key in BATCHING_KEYS:
        path = (*where, key)
        if key not in raw or raw[key] is None:
            got = _got(raw, key)
            report.bad(doc, path, "a positive integer (fractal requires it)", got)
        elif key.endswith("_mem_per_job"):
            mem = _mem_mb(raw[key], path, report)
            if mem is not None:
                out[key] = mem
        elif isinstance(raw[key], bool) or not isinstance(raw[key], int) or raw[key] < 1:
            report.bad(doc, path, "a positive integer", json_word(raw[key]))
        else:
            out[key] = raw[key]
    return out


def _exports(raw: Any, where: tuple[str, ...], config: dict[str, Any], report: _Report) -> None:
    doc = "resource"
    if not isinstance(raw, Mapping):
        report.bad(doc, where, "a JSON object of NAME: path", json_word(raw))
        return
    shape = schema("runner_config").get("properties", {}).get("user_local_exports", {})
    out: dict[str, str] = {}
    for name, value in raw.items():
        path = (*where, name)
        if value is None:
            report.change(doc, path, "null dropped (not exported)")
        elif not isinstance(value, str):
            report.bad(doc, path, "a path (text)", json_word(value))
        elif not _matches(shape.get("propertyNames"), name):
            report.skip(doc, path, f"{json_word(name)} is not a shell variable name: left out")
        elif value.startswith("/"):
            # fractal's Path(cache_dir) / value is the absolute value itself: the same
            # export as a line of every job script.
            line = f"export {name}={shlex.quote(value)}"
            for key in ("default_slurm_config", "gpu_slurm_config"):
                layer = config.get(key)
                if layer is not None and (key == "default_slurm_config" or "extra_lines" in layer):
                    layer.setdefault("extra_lines", []).append(line)
            report.change(
                doc,
                path,
                f"absolute, so fractal exports it as it is: carried as "
                f"the extra line {json_word(line)}",
            )
        elif not _matches(shape.get("additionalProperties"), value):
            report.skip(
                doc,
                path,
                f"{json_word(value)} is not a path slurmplan can export "
                "(one line, not empty): left out",
            )
        elif posixpath.normpath(value) == ".." or posixpath.normpath(value).startswith("../"):
            report.skip(
                doc,
                path,
                f"{json_word(value)} climbs out of the user's cache dir, "
                "which slurmplan refuses: left out",
            )
        else:
            out[name] = value
    if out:
        config["user_local_exports"] = out


def _resource_fields(
    resource: Mapping[str, Any], config: dict[str, Any], report: _Report, *, with_profile: bool
) -> None:
    doc = "resource"
    for key, value in resource.items():
        path = (key,)
        if key == "jobs_runner_config":
            continue
        if value is None:
            report.change(doc, path, "null dropped (unset)")
        elif key == "jobs_local_dir":
            if isinstance(value, str) and _matches(_config_defs().get("directive_path"), value):
                config["scripts_dir"] = value
                report.change(
                    doc,
                    path,
                    f"-> 'scripts_dir': {json_word(value)} (where the "
                    "runner writes job scripts; used with the sudo transport)",
                )
            else:
                report.skip(
                    doc,
                    path,
                    f"{json_word(value)} cannot be 'scripts_dir' (an "
                    "absolute path of letters, digits and _ . , + @ : = / -, as it "
                    "goes into #SBATCH lines): set one in config.json",
                )
        elif key in ("type", "host"):
            if not with_profile:
                report.skip(
                    doc,
                    path,
                    f"{json_word(value)}: belongs in the profile: pass --profile to carry it",
                )
        elif key in _RESOURCE_NOT_CARRIED:
            report.skip(doc, path, _RESOURCE_NOT_CARRIED[key])
        elif key.startswith("tasks_"):
            report.skip(doc, path, _TASK_COLLECTION)
        else:
            report.skip(doc, path, "no slurmplan counterpart")


# --- the profile ------------------------------------------------------------------


def _profile(profile: Any, user: Any, resource: Any, report: _Report) -> dict[str, Any]:
    doc = "profile"
    if not isinstance(profile, Mapping):
        report.bad(doc, (), "a JSON object (a fractal-server profile)", json_word(profile))
        return {}
    out: dict[str, Any] = {}
    kind = profile.get("resource_type")
    resource_kind = resource.get("type") if isinstance(resource, Mapping) else None
    if kind not in TRANSPORTS:
        report.bad(
            doc,
            ("resource_type",),
            '"slurm_sudo" or "slurm_ssh"',
            _got(profile, "resource_type"),
        )
        return {}
    if resource_kind is not None and resource_kind != kind:
        report.bad(
            doc,
            ("resource_type",),
            f"the resource's type {json_word(resource_kind)}",
            json_word(kind),
        )
        return {}  # the rest would only repeat this mismatch
    username = profile.get("username")
    if not isinstance(username, str) or not username:
        report.bad(
            doc,
            ("username",),
            "the user's name on the cluster",
            _got(profile, "username"),
        )
    out["username"] = username
    out["transport"] = TRANSPORTS[kind]
    report.change(
        doc, ("resource_type",), f"{json_word(kind)} -> 'transport': {json_word(out['transport'])}"
    )
    out.update(_from_user(user, report))
    if kind == "slurm_ssh":
        _ssh(profile, resource, out, report)
    else:
        report.skip(
            doc,
            (),
            "fractal puts a sudo user's job folders under <cache_dir>/<year-month>/; "
            "slurmplan's go under 'jobs_dir' (by default <project_dir>/jobs)",
        )
    for key, value in profile.items():
        path = (key,)
        if key in ("resource_type", "username") or (kind == "slurm_ssh" and key in _SSH_ONLY):
            continue
        if value is None:
            report.change(doc, path, "null dropped (unset)")
        elif key in _SSH_ONLY:
            report.skip(doc, path, "only for a slurm_ssh profile: left out")
        else:
            report.skip(doc, path, _PROFILE_NOT_CARRIED.get(key, "no slurmplan counterpart"))
    return out


def _from_user(user: Any, report: _Report) -> dict[str, Any]:
    """project_dir and cache_dir (and slurm_accounts) from the fractal user's settings."""
    doc = "user"
    expected = (
        "the fractal user's 'project_dirs', a list of absolute paths (fractal keeps "
        "them on the user, not the profile: pass the user's JSON too)"
    )
    if not isinstance(user, Mapping):
        report.bad(doc, ("project_dirs",), expected, "no user" if user is None else json_word(user))
        return {}
    out: dict[str, Any] = {}
    dirs = user.get("project_dirs")
    if (
        not isinstance(dirs, list)
        or not dirs
        or not all(isinstance(d, str) and d.startswith("/") for d in dirs)
    ):
        report.bad(
            doc,
            ("project_dirs",),
            expected,
            _got(user, "project_dirs"),
        )
    else:
        out["project_dir"] = dirs[0]
        out["cache_dir"] = posixpath.join(dirs[0], FRACTAL_CACHE_SUBDIR)
        report.change(
            doc,
            ("project_dirs", 0),
            f"-> 'project_dir': {json_word(dirs[0])}, and "
            f"'cache_dir': {json_word(out['cache_dir'])} (fractal's cache dir, where "
            "user_local_exports point)",
        )
        for index in range(1, len(dirs)):
            report.skip(
                doc,
                ("project_dirs", index),
                "fractal offers it for datasets; a slurmplan profile has one project_dir",
            )
    accounts = user.get("slurm_accounts")
    if accounts:
        has_accounts = "slurm_accounts" in schema("user_profile").get("properties", {})
        if not isinstance(accounts, list) or not all(isinstance(a, str) for a in accounts):
            report.bad(doc, ("slurm_accounts",), "a list of account names", json_word(accounts))
        elif has_accounts:
            out["slurm_accounts"] = list(accounts)
            report.change(doc, ("slurm_accounts",), "-> the profile's 'slurm_accounts'")
        else:
            report.skip(
                doc,
                ("slurm_accounts",),
                "this slurmplan's profile has no per-user "
                "accounts: set the config's 'account' if one account fits",
            )
    for key, value in user.items():
        if key in ("project_dirs", "slurm_accounts"):
            continue
        if value is None:
            report.change(doc, (key,), "null dropped (unset)")
        else:
            report.skip(doc, (key,), "a fractal account setting; no slurmplan counterpart")
    return out


def _ssh(profile: Mapping[str, Any], resource: Any, out: dict[str, Any], report: _Report) -> None:
    ssh: dict[str, Any] = {}
    host = resource.get("host") if isinstance(resource, Mapping) else None
    if isinstance(host, str) and host:
        ssh["host"] = host
        report.change("resource", ("host",), f"-> the profile's 'ssh.host': {json_word(host)}")
    else:
        report.bad(
            "resource",
            ("host",),
            "the cluster's host name (a slurm_ssh resource has one)",
            _got(resource, "host") if isinstance(resource, Mapping) else "no 'host'",
        )
    key = profile.get("ssh_key_path")
    if isinstance(key, str) and key.startswith("/"):
        ssh["key_path"] = key
        report.change("profile", ("ssh_key_path",), f"-> 'ssh.key_path': {json_word(key)}")
    else:
        report.bad(
            "profile",
            ("ssh_key_path",),
            "an absolute path to the private key",
            _got(profile, "ssh_key_path"),
        )
    ssh["known_hosts_path"] = SYSTEM_KNOWN_HOSTS
    report.skip(
        "profile",
        (),
        "fractal (Fabric) accepts a host key it does not know; slurmplan "
        f"checks it: 'ssh.known_hosts_path' is set to {SYSTEM_KNOWN_HOSTS}, which must "
        "hold the cluster's key (or point it at another file)",
    )
    out["ssh"] = ssh
    jobs = profile.get("jobs_remote_dir")
    if isinstance(jobs, str) and _matches(_config_defs().get("directive_path"), jobs):
        out["jobs_dir"] = jobs
        report.change("profile", ("jobs_remote_dir",), f"-> 'jobs_dir': {json_word(jobs)}")
    elif jobs is not None:
        report.skip(
            "profile",
            ("jobs_remote_dir",),
            f"{json_word(jobs)} cannot be 'jobs_dir' "
            "(an absolute path of letters, digits and _ . , + @ : = / -): jobs go to "
            "<project_dir>/jobs",
        )


# --- does it compile? -------------------------------------------------------------


def _compile_problems(config: dict[str, Any], profile: dict[str, Any] | None) -> list[str]:
    """What compile would say about the result, with one task (and one GPU task)."""
    # Without a profile, a local one: the config alone is what is checked.
    probe = profile or {"username": "nobody", "transport": "local", "project_dir": "/probe"}
    found: dict[str, None] = {}
    for needs_gpu in (False, True) if "gpu_slurm_config" in config else (False,):
        tasks = {
            "name": "probe",
            "needs_gpu": needs_gpu,
            "tasks": [{"id": "t", "command": ["true"]}],
        }
        try:
            compile_plan(config, probe, tasks)
        except CompileError as error:
            for problem in error.problems:
                if problem.source.value in ("config", "profile"):
                    found[f"does not compile yet: {problem}"] = None
    return list(found)
