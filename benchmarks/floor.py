"""The floor: slurmplan's script bytes from plain string formatting and shlex.quote.

No schema, no checks, no plan object: the least any program must do to produce
the same scripts for the benchmark's inputs (one config shape, the sudo
transport, metas of cpus_per_task / mem / time, optional env per task).  The
benchmark asserts that its output equals slurmplan's, byte for byte, so the
comparison is honest.  It imports nothing from `compiler`.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import shlex
from typing import Any

_MIB = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}
_OPTIONAL = ("constraint", "gres", "gpus", "time", "account", "qos", "exclude", "nodelist")


def _mib(mem: int | str) -> int:
    if isinstance(mem, int):
        return mem
    return int(mem[:-1]) * _MIB[mem[-1].upper()] if mem[-1].isalpha() else int(mem)


def _batching(n: int, cpus: int, mem: int, limits: dict[str, Any]) -> tuple[int, int]:
    """fractal-server's heuristic, its happy paths only."""
    t_mem, m_mem = _mib(limits["target_mem_per_job"]), _mib(limits["max_mem_per_job"])
    p = min(limits["target_cpus_per_job"] // cpus, t_mem // mem)
    if -(-n // p) <= limits["target_num_jobs"]:
        return p, p
    p = min(limits["max_cpus_per_job"] // cpus, m_mem // mem)
    if -(-n // p) <= limits["max_num_jobs"]:
        return p, p
    return -(-n // limits["max_num_jobs"]), p


def _canonical(value: Any) -> bytes:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return text.encode("ascii")


def _plan_id(config: dict[str, Any], profile: dict[str, Any], task_list: dict[str, Any]) -> str:
    """slurmplan's plan id (compiler/passes/plan_id.py) for valid inputs: seven columns hashed."""
    tasks = task_list["tasks"]
    rest = {key: value for key, value in task_list.items() if key != "tasks"}
    extra = [i for i, task in enumerate(tasks) if len(task) > 2]  # with env or meta
    columns = [
        _canonical(["slurmplan/2", config, profile, rest]),
        "\x00".join(task["id"] for task in tasks).encode("utf-8", "surrogatepass"),
        b"".join(len(task["command"]).to_bytes(8, "little") for task in tasks),
        "\x00".join(word for task in tasks for word in task["command"]).encode(
            "utf-8", "surrogatepass"
        ),
        b"".join(i.to_bytes(8, "little") for i in extra),
        _canonical([tasks[i].get("env") for i in extra]),
        _canonical([tasks[i].get("meta") for i in extra]),
    ]
    digests = b"".join(hashlib.sha256(column).digest() for column in columns)
    return hashlib.sha256(b"slurmplan-plan-id/2" + digests).hexdigest()[:16]


def scripts(
    config: dict[str, Any], profile: dict[str, Any], task_list: dict[str, Any]
) -> list[str]:
    """Every job's script, in job order."""
    plan_id = _plan_id(config, profile, task_list)
    name = task_list["name"]
    jobs_dir = posixpath.join(posixpath.normpath(profile["project_dir"]), "jobs")
    workdir = f"{jobs_dir}/{name}-{plan_id[:12]}"
    cache_dir = posixpath.join(posixpath.normpath(profile["project_dir"]), ".fractal_cache")
    base = {**config["default_slurm_config"], **task_list.get("meta", {})}
    extra = base.get("extra_lines", [])
    sbatch_extra = "".join(f"{line}\n" for line in extra if line.startswith("#SBATCH"))
    shell_extra = "".join(f"{line}\n" for line in extra if not line.startswith("#SBATCH"))
    exports = "".join(
        f"export {key}={shlex.quote(posixpath.join(cache_dir, value))}\n"
        for key, value in sorted(config.get("user_local_exports", {}).items())
    )
    # Group tasks by their resolved settings, in order of first appearance.
    groups: dict[tuple[Any, ...], list[int]] = {}
    resolved: dict[tuple[Any, ...], dict[str, Any]] = {}
    tasks = task_list["tasks"]
    for index, task in enumerate(tasks):
        meta = task.get("meta")
        key = tuple(sorted(meta.items())) if meta else ()
        if key not in resolved:
            settings = {**base, **meta} if meta else base
            resolved[key] = settings
        groups.setdefault(key, []).append(index)
    out: list[str] = []
    for key, members in groups.items():
        r = resolved[key]
        cpus, mem = r["cpus_per_task"], _mib(r["mem"])
        per_job, parallel = _batching(len(members), cpus, mem, config["batching_config"])
        optional = "".join(f"#SBATCH --{k}={r[k]}\n" for k in _OPTIONAL if k in r)
        for start in range(0, len(members), per_job):
            batch = members[start : start + per_job]
            out.append(
                _script(
                    len(out), batch, tasks, ntasks=min(len(batch), parallel), cpus=cpus,
                    mem=mem,
                    header=(
                        f"#!/bin/bash\n#SBATCH --partition={r['partition']}\n"
                        f"#SBATCH --ntasks={min(len(batch), parallel)}\n"
                        f"#SBATCH --cpus-per-task={cpus}\n"
                        f"#SBATCH --mem={min(len(batch), parallel) * mem}M\n"
                        f"#SBATCH --job-name={name}.{plan_id[:8]}.{len(out)}\n"
                        f"{optional}{sbatch_extra}"
                    ),
                    tail=f"{shell_extra}{exports}",
                    workdir=workdir,
                    plan_id=plan_id,
                )
            )  # fmt: skip
    return out


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _script(
    index: int,
    batch: list[int],
    tasks: list[dict[str, Any]],
    *,
    ntasks: int,
    cpus: int,
    mem: int,
    header: str,
    tail: str,
    workdir: str,
    plan_id: str,
) -> str:
    stem = f"job-{index:06d}"
    n = len(batch)
    parts = [
        header,
        f"#SBATCH --output={workdir}/{stem}.out\n#SBATCH --error={workdir}/{stem}.err\n"
        f"#SBATCH --chdir={workdir}\n{tail}\n"
        f"# slurmplan {plan_id}, job {index}: {n} task{_s(n)} in {ntasks} lane{_s(ntasks)}.\n"
        f"# Each lane runs its tasks one after another: never more than {ntasks} "
        f"step{_s(ntasks)} at once;\n"
        '# each finished task appends "<id> <exit code>" to its lane\'s status file.\n'
        "_slurmplan_task() {\n    _sp_status=$1 _sp_id=$2\n    shift 2\n"
        f"    srun --ntasks=1 --cpus-per-task={cpus} --mem={mem}M "
        '--output="tasks/$_sp_id.out" --error="tasks/$_sp_id.err" -- "$@"\n'
        '    echo "$_sp_id $?" >>"$_sp_status"\n}\n',
    ]
    statuses = [f"{stem}.lane-{lane:02d}.status" for lane in range(ntasks)]
    for lane, status in enumerate(statuses):
        parts.append(f"(\n    : >{status}\n")
        for position in range(lane, n, ntasks):
            task = tasks[batch[position]]
            words = " ".join(map(shlex.quote, task["command"]))
            env = task.get("env")
            if env:
                assigns = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()))
                wrap = " /bin/sh -c 'exec \"$@\"' sh" if "=" in task["command"][0] else ""
                words = f"env {assigns}{wrap} {words}"
            parts.append(f"    _slurmplan_task {status} {task['id']} {words}\n")
        parts.append(") &\n")
    parts.append(
        "wait\n\n# Every task without a status line (its lane was killed) counts as failed.\n"
        f"_sp_seen=0 _sp_failed=0\nfor _sp_lane in {' '.join(statuses)}; do\n"
        '    [ -f "$_sp_lane" ] || continue\n'
        "    while read -r _sp_id _sp_code; do\n        _sp_seen=$((_sp_seen + 1))\n"
        '        [ "$_sp_code" = 0 ] || _sp_failed=$((_sp_failed + 1))\n'
        '    done <"$_sp_lane"\ndone\n'
        f"_sp_failed=$((_sp_failed + {n} - _sp_seen))\n"
        f'echo "slurmplan-done job={index} tasks={n} failed=$_sp_failed" >{stem}.done.part\n'
        f"mv -f {stem}.done.part {stem}.done\n"
        '[ "$_sp_failed" -eq 0 ]\n'
    )
    return "".join(parts)
