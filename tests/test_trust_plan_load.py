"""A plan file cannot widen what the runner runs (issue 9): loading a plan re-derives its
steps from its jobs and transport (compiler.plan.derive_steps, the compiler's own), checks
its jobs' names and paths against the layout and its digest of the whole plan, and
refuses any difference (exit 2, naming the file and the JSON pointer) before anything runs.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sample_inputs import config, one_task_per_job_config, profile, tasks
from test_effects_with_fake_slurm import Bench, Cli

from slurmplan.compiler import CompileError, compile_plan, plan_from_json
from slurmplan.compiler.plan import derive_steps
from slurmplan.effects.cli import main
from slurmplan.effects.cli.plan_files import dump_plan

Edit = Callable[[dict[str, Any]], None]


def _plan_json(transport: str, n: int = 2) -> dict[str, Any]:
    config = one_task_per_job_config(n, scripts_dir="/srv/scripts")
    extra: dict[str, Any] = {"transport": transport}
    if transport == "ssh":
        extra["ssh"] = {"host": "h", "key_path": "/k/id", "known_hosts_path": "/k/kh"}
    form: dict[str, Any] = json.loads(dump_plan(compile_plan(config, profile(**extra), tasks(n))))
    return form


def _submit_at(d: dict[str, Any], job: int) -> dict[str, Any]:
    step: dict[str, Any] = next(s for s in d["steps"] if s["kind"] == "submit" and s["job"] == job)
    return step


def _shell_mkdir(d: dict[str, Any]) -> None:
    d["steps"][0]["argv"] = ["/bin/sh", "-c", "id > /tmp/slurmplan-pwned"]


def _rm(d: dict[str, Any]) -> None:
    d["steps"][0]["argv"] = ["rm", "-f", "/home/runner/important"]


def _write_outside(d: dict[str, Any]) -> None:
    step = next(s for s in d["steps"] if s["kind"] == "write")
    step["path"], step["mode"] = "/home/runner/.bashrc", "0777"


def _wide_mode(d: dict[str, Any]) -> None:
    next(s for s in d["steps"] if s["kind"] == "write")["mode"] = "0777"


def _added_write(d: dict[str, Any]) -> None:
    d["steps"].insert(1, {"kind": "write", "path": "/tmp/x.sbatch", "job": 0, "mode": "0644"})


def _added_upload(d: dict[str, Any]) -> None:
    pipe = ["sudo", "--set-home", "--non-interactive", "-u", "alice", "sh", "-c", "cat > /tmp/x"]
    d["steps"].insert(1, {"kind": "upload", "argv": pipe, "directory": "/tmp", "jobs": [0]})


def _other_user(d: dict[str, Any]) -> None:
    d["transport"]["user"] = "bob"


def _wrap(d: dict[str, Any]) -> None:
    _submit_at(d, 0)["argv"] += ["--wrap=id > /tmp/slurmplan-pwned"]


def _wrap_instead_of_script(d: dict[str, Any]) -> None:
    _submit_at(d, 1)["argv"][-1] = "--wrap=id > /tmp/slurmplan-pwned"


def _unknown_kind(d: dict[str, Any]) -> None:
    d["steps"][0]["kind"] = "shell"


def _script_edited(d: dict[str, Any]) -> None:
    d["jobs"][0]["script"] += "id > /tmp/slurmplan-pwned\n"


def _script_cut(d: dict[str, Any]) -> None:
    d["jobs"][1]["script"] = d["jobs"][1]["script"][:60]


def _script_moved(d: dict[str, Any]) -> None:
    # the job and its write and submit steps all moved, consistently
    d["jobs"][0]["script_path"] = "/home/runner/.profile"
    next(s for s in d["steps"] if s["kind"] == "write")["path"] = "/home/runner/.profile"
    _submit_at(d, 0)["argv"][-1] = "/home/runner/.profile"


def _workdir_escapes(d: dict[str, Any]) -> None:
    d["workdir"] = d["workdir"].replace("/jobs/", "/jobs/../../../tmp/")


def _no_digest(d: dict[str, Any]) -> None:
    del d["digest"]


def _steps_dropped(d: dict[str, Any]) -> None:
    del d["steps"][-1]


# (transport, edit, the pointer named, words of the message)
EDITS: list[tuple[str, Edit, str, str]] = [
    ("local", _shell_mkdir, "/steps/0/argv/0", "expected 'mkdir' (got '/bin/sh')"),
    ("sudo", _shell_mkdir, "/steps/0/argv/0", "expected 'sudo' (got '/bin/sh')"),
    ("local", _rm, "/steps/0/argv/0", "expected 'mkdir' (got 'rm')"),
    ("local", _write_outside, "/steps/1/mode", "expected '0600' (got '0777')"),
    ("local", _wide_mode, "/steps/1/mode", "expected '0600' (got '0777')"),
    ("sudo", _added_write, "/steps", "expected 3 steps (got 4)"),
    ("sudo", _added_upload, "/steps/1/kind", "expected 'submit' (got 'upload')"),
    ("ssh", _added_upload, "/steps/1/argv/", "not what the compiler derives"),
    ("sudo", _other_user, "/steps/0/argv/4", "expected 'bob' (got 'alice')"),
    ("sudo", _wrap, "/steps/1/argv/7", "expected nothing (got '--wrap=id > /tmp/"),
    ("local", _wrap_instead_of_script, "/steps/4/argv/2", "(got '--wrap=id > /tmp/"),
    (
        "local",
        _unknown_kind,
        "/steps/0",
        "'kind' must be one of 'mkdir', 'write', 'upload', 'submit' (got 'shell')",
    ),
    ("local", _script_edited, "/digest", "the plan was edited or cut short"),
    ("sudo", _script_cut, "/digest", "the plan was edited or cut short"),
    ("local", _script_moved, "/jobs/0/script_path", "(got '/home/runner/.profile')"),
    ("sudo", _workdir_escapes, "/workdir", "without . or .. ending /t-"),
    ("local", _no_digest, "/", "digest"),
    ("ssh", _steps_dropped, "/steps", "expected 4 steps (got 3)"),
    ("local", _steps_dropped, "/steps/4", "(got nothing)"),
]
IDS = [f"{t}-{edit.__name__.strip('_')}" for t, edit, _, _ in EDITS]


@pytest.mark.parametrize(("transport", "edit", "where", "words"), EDITS, ids=IDS)
def test_plan_from_json_refuses_each_edit_naming_where(
    transport: str, edit: Edit, where: str, words: str
) -> None:
    d = _plan_json(transport)
    plan_from_json(copy.deepcopy(d))  # as compiled: accepted
    edit(d)
    with pytest.raises(CompileError) as caught:
        plan_from_json(d)
    problems = caught.value.problems
    assert any(p.pointer.startswith(where) and words in p.message for p in problems), problems


@pytest.mark.parametrize("case", EDITS, ids=IDS)
def test_an_edited_plan_runs_nothing_and_exits_2_naming_the_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: tuple[str, Edit, str, str],
) -> None:
    transport, edit, where, _ = case
    bench = Bench(tmp_path, transport, 2)
    cli = Cli(bench, monkeypatch, capsys)
    d = json.loads(Path(cli.plan_path).read_text())
    edit(d)
    Path(cli.plan_path).write_text(json.dumps(d))
    for command in ("submit", "status", "cancel", "collect"):
        code, out, err = cli(command)
        assert code == 2, (command, err)
        assert out == ""
        lines = err.splitlines()
        assert any(line.startswith(f"{cli.plan_path}: {where}") for line in lines), err
        assert "Traceback" not in err
    assert bench.slurm.argvs == []  # nothing ran: no mkdir, no sbatch, no squeue
    assert not Path(bench.journal).exists()
    assert not any(Path(job.script_path).exists() for job in bench.plan.jobs)


def test_the_compiler_and_the_loader_derive_steps_with_one_function() -> None:
    for transport in ("local", "sudo", "ssh"):
        plan = plan_from_json(_plan_json(transport, 3))
        assert derive_steps(plan.transport, plan.workdir, plan.script_dir, plan.jobs) == (
            plan.steps
        )


def test_a_changed_user_is_reported_once_per_step_up_to_a_bound() -> None:
    d = _plan_json("sudo", 150)
    _other_user(d)
    with pytest.raises(CompileError) as caught:
        plan_from_json(d)
    assert len(caught.value.problems) == 100  # every step differs; the first 100 are named


# A lone surrogate other than U+DC80..U+DCFF (a raw byte) has no bytes: a plan file holding
# one is refused at the string, as compile refuses one in its inputs (docs/decisions.md).
@pytest.mark.parametrize(
    ("where", "edit"),
    [
        ("/jobs/0/script", lambda d: d["jobs"][0].update(script=d["jobs"][0]["script"] + "\ud800")),
        ("/workdir", lambda d: d.update(workdir=d["workdir"] + "\udfff")),
        (
            "/warnings/0/message",
            lambda d: d["warnings"].append({"group": None, "message": "\ud83d"}),
        ),
    ],
)
def test_a_lone_surrogate_in_a_plan_is_refused_at_its_string(where: str, edit: Edit) -> None:
    d = _plan_json("local")
    edit(d)
    with pytest.raises(CompileError) as caught:
        plan_from_json(d)
    assert [p.pointer for p in caught.value.problems] == [where]
    assert "lone surrogates only as U+DC80..U+DCFF" in caught.value.problems[0].message


def test_a_plan_file_with_a_lone_surrogate_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = _plan_json("local")
    d["jobs"][0]["script"] += "\ud800"
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(d))  # ASCII: the JSON escape "\ud800"
    assert main(["show", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"{path}: /jobs/0/script: text must be encodable"), err


# Fields the digest once left out (a job's tasks, lanes and resources, the groups, the
# queue limit) change what collect reports and show draws: the digest covers the whole
# plan, so an edit anywhere is refused (docs/decisions.md, Trust boundary).
def _lanes_plan_json() -> dict[str, Any]:
    """Two jobs of four tasks, each in four lanes."""
    form: dict[str, Any] = json.loads(dump_plan(compile_plan(config(), profile(), tasks(8))))
    return form


def _tasks_swapped(d: dict[str, Any]) -> None:
    d["jobs"][0]["tasks"], d["jobs"][1]["tasks"] = d["jobs"][1]["tasks"], d["jobs"][0]["tasks"]


def _lanes_cut(d: dict[str, Any]) -> None:
    job = d["jobs"][0]
    job["ntasks"], job["lane_status_paths"] = 1, job["lane_status_paths"][:1]


WHOLE_PLAN_EDITS: list[Edit] = [
    _tasks_swapped,
    _lanes_cut,
    lambda d: d["jobs"][0]["tasks"].reverse(),
    lambda d: d["jobs"][0].update(time="99:00:00"),
    lambda d: d["jobs"][1].update(cpus_per_task=64),
    lambda d: d["jobs"][1].update(mem_mb=1),
    lambda d: d["groups"][0].update(first_task="t4"),
    lambda d: d.update(max_jobs_in_queue=1000),
    lambda d: d["warnings"].append({"group": None, "message": "all is well"}),
]


@pytest.mark.parametrize("edit", WHOLE_PLAN_EDITS)
def test_an_edit_to_any_field_of_the_plan_is_refused(edit: Edit) -> None:
    d = _lanes_plan_json()
    before = copy.deepcopy(d)
    plan_from_json(before)
    edit(d)
    assert d != before
    with pytest.raises(CompileError) as caught:
        plan_from_json(d)
    messages = [p.message for p in caught.value.problems if p.pointer == "/digest"]
    assert messages and "the plan was edited" in messages[0], caught.value.problems


@pytest.mark.parametrize("command", ["collect", "show --svg"])
def test_a_plan_with_edited_tasks_or_lanes_exits_2_in_every_command(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    bench = Bench(tmp_path, "local", 2)
    cli = Cli(bench, monkeypatch, capsys)
    for edit in (_tasks_swapped, _lanes_cut):
        d = _lanes_plan_json()  # refused on load: its journal and Slurm are never reached
        edit(d)
        Path(cli.plan_path).write_text(json.dumps(d))
        name, *options = command.split()
        if name == "show":
            options.append(str(tmp_path / "plan.svg"))
        code, out, err = cli(name, *options) if name != "show" else _show(cli, options, capsys)
        assert (code, out) == (2, ""), err
        assert err.startswith(f"{cli.plan_path}: /digest: "), err


def _show(cli: Cli, options: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["show", cli.plan_path, *options])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_task_in_two_jobs_is_refused_whatever_the_digest_says() -> None:
    plan = plan_from_json(_lanes_plan_json())
    second = dataclasses.replace(plan.jobs[1], tasks=("t4", "t0", "t6", "t7"))
    with pytest.raises(CompileError) as caught:  # a Plan checks it when built
        dataclasses.replace(plan, jobs=(plan.jobs[0], second))
    [problem] = caught.value.problems
    assert problem.pointer == "/jobs/1/tasks/1"
    assert problem.message == "task 't0' is in job 0 too: a task runs in one job"
