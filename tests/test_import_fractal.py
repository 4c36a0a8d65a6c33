"""compiler/importers/fractal.py: fractal-server resources and profiles as slurmplan inputs.

The documents below are this project's own copies of the shapes in fractal-server's
docs (docs/assets/resource_and_profile/) and tests (JobRunnerConfigSLURM alone, as in
tests/v2/test_08_backends/test_slurm_config.py), not files of that project.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from slurmplan.compiler import compile_plan
from slurmplan.compiler.importers.fractal import FractalImportError, Imported, import_fractal
from slurmplan.compiler.package_files import schema


def docs_resource(kind: str = "slurm_sudo") -> dict[str, Any]:
    """A resource shaped like fractal-server's docs example (GPU by an #SBATCH line)."""
    resource: dict[str, Any] = {
        "type": kind,
        "name": "SLURM cluster",
        "jobs_local_dir": "/somewhere/local-jobs",
        "jobs_runner_config": {
            "default_slurm_config": {"partition": "partition-name", "cpus_per_task": 1,
                                     "mem": "100M"},
            "gpu_slurm_config": {"partition": "gpu", "extra_lines": ["#SBATCH --gres=gpu:v100:1"]},
            "user_local_exports": {"CELLPOSE_LOCAL_MODELS_PATH": "CELLPOSE_LOCAL_MODELS_PATH",
                                   "NAPARI_CONFIG": "napari_config.json"},
            "batching_config": {"target_cpus_per_job": 1, "max_cpus_per_job": 1,
                                "target_mem_per_job": 200, "max_mem_per_job": 500,
                                "target_num_jobs": 2, "max_num_jobs": 4},
        },
        "jobs_slurm_python_worker": "/some/venv/bin/python3.12",
        "jobs_poll_interval": 10,
        "tasks_local_dir": "/somewhere/local-tasks",
        "tasks_python_config": {"default_version": "3.12",
                                "versions": {"3.12": "/some/venv/bin/python3.12"}},
        "tasks_pixi_config": {},
        "tasks_pip_cache_dir": None,
    }  # fmt: skip
    if kind == "slurm_ssh":
        resource["host"] = "slurm-cluster.example.org"
    return resource


SUDO_PROFILE = {"name": "SLURM/sudo profile", "resource_type": "slurm_sudo",
                "username": "slurm-username"}  # fmt: skip
SSH_PROFILE = {
    "name": "SLURM/SSH profile", "resource_type": "slurm_ssh", "username": "slurm-username",
    "ssh_key_path": "/somewhere/private.key", "jobs_remote_dir": "/somewhere/jobs",
    "tasks_remote_dir": "/somewhere/tasks", "pixi_cache_dir": "/somewhere/pixi/cache",
}  # fmt: skip
# A fractal user as its API reads it (UserRead): where project_dirs and slurm_accounts live.
USER = {
    "id": 7, "email": "user@example.org", "is_active": True, "is_superuser": False,
    "is_verified": True, "is_guest": False, "oauth_accounts": [], "profile_id": 1,
    "project_dirs": ["/data/user/project", "/data/shared"], "slurm_accounts": ["lab-a", "lab-b"],
}  # fmt: skip


def tasks(n: int = 1, *, needs_gpu: bool = False) -> dict[str, Any]:
    return {"name": "wf", "needs_gpu": needs_gpu,
            "tasks": [{"id": f"t{i}", "command": ["true"]} for i in range(n)]}  # fmt: skip


def runner(resource: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = resource["jobs_runner_config"]
    return value


def has_line(lines: tuple[str, ...], *parts: str) -> bool:
    return any(all(part in line for part in parts) for line in lines)


def test_the_docs_resource_gres_extra_line_becomes_the_gres_field() -> None:
    imported = import_fractal(docs_resource(), SUDO_PROFILE, USER)
    assert imported.config["gpu_slurm_config"] == {
        "partition": "gpu", "gres": "gpu:v100:1",
        # fractal's GPU extra_lines replace the default's: still so, now that they are empty
        "extra_lines": [],
    }  # fmt: skip
    assert has_line(imported.changes, "/jobs_runner_config/gpu_slurm_config/extra_lines/0",
                    "'gres'", '"gpu:v100:1"')  # fmt: skip
    job = compile_plan(imported.config, imported.profile or {}, tasks(needs_gpu=True)).jobs[0]
    assert "#SBATCH --gres=gpu:v100:1" in job.script.splitlines()
    assert "#SBATCH --partition=gpu" in job.script.splitlines()


def test_the_whole_docs_config() -> None:
    config = import_fractal(docs_resource()).config
    assert config == {
        "default_slurm_config": {"partition": "partition-name", "cpus_per_task": 1, "mem": 100},
        "gpu_slurm_config": {"partition": "gpu", "gres": "gpu:v100:1", "extra_lines": []},
        "batching_config": runner(docs_resource())["batching_config"],
        "user_local_exports": runner(docs_resource())["user_local_exports"],
        "scripts_dir": "/somewhere/local-jobs",
    }


def test_gpu_slurm_config_null_is_dropped() -> None:
    resource = docs_resource()
    runner(resource)["gpu_slurm_config"] = None
    imported = import_fractal(resource, SUDO_PROFILE, USER)
    assert "gpu_slurm_config" not in imported.config
    assert has_line(imported.changes, "/jobs_runner_config/gpu_slurm_config", "null dropped")
    assert not has_line(imported.not_carried, "does not compile")
    compile_plan(imported.config, imported.profile or {}, tasks())


def test_nulls_are_dropped_everywhere() -> None:
    resource = docs_resource()
    runner(resource)["default_slurm_config"].update(time=None, account=None, extra_lines=None)
    runner(resource)["user_local_exports"]["GONE"] = None
    imported = import_fractal(resource, {**SUDO_PROFILE, "ssh_key_path": None}, USER)
    assert imported.config["default_slurm_config"] == {
        "partition": "partition-name", "cpus_per_task": 1, "mem": 100,
    }  # fmt: skip
    assert "GONE" not in imported.config["user_local_exports"]
    assert imported.profile is not None and "ssh" not in imported.profile
    for where in ("default_slurm_config/time", "default_slurm_config/account",
                  "default_slurm_config/extra_lines", "user_local_exports/GONE",
                  "/tasks_pip_cache_dir"):  # fmt: skip
        assert has_line(imported.changes, where, "null dropped"), where
    assert has_line(imported.changes, "profile: /ssh_key_path", "null dropped")


@pytest.mark.parametrize(
    ("fractal", "mb"),
    [("100M", 100), ("8G", 8000), ("1T", 1_000_000), ("250", 250), (4000, 4000), ("8GG", 8000)],
)
def test_memory_is_read_as_fractal_reads_it(fractal: Any, mb: int) -> None:
    resource = docs_resource()
    runner(resource)["default_slurm_config"]["mem"] = fractal
    runner(resource)["batching_config"]["max_mem_per_job"] = fractal
    config = import_fractal(resource).config
    assert config["default_slurm_config"]["mem"] == mb
    assert config["batching_config"]["max_mem_per_job"] == mb


@pytest.mark.parametrize("bad", ["1.5G", "8GB", "8g", "M100", "", "0", 0, -5, True, None, [1]])
def test_memory_fractal_refuses_is_refused(bad: Any) -> None:
    resource = docs_resource()
    runner(resource)["batching_config"]["target_mem_per_job"] = bad
    with pytest.raises(FractalImportError) as caught:
        import_fractal(resource)
    (problem,) = caught.value.problems
    assert problem.document == "resource"
    assert problem.pointer == "/jobs_runner_config/batching_config/target_mem_per_job"
    assert "None" not in problem.message and "True" not in problem.message


def fractal_heuristics(tot: int, cpus: int, mem: int, b: dict[str, int]) -> tuple[int, int]:
    """fractal-server's batching (branches 2-4, no tasks_per_job given), in MB as it counts."""

    def fit(max_cpus: int, max_mem: int) -> int:
        if cpus > max_cpus or mem > max_mem:
            return 1
        return min(max_cpus // cpus, max_mem // mem)

    per_job = fit(b["target_cpus_per_job"], b["target_mem_per_job"])
    if math.ceil(tot / per_job) <= b["target_num_jobs"]:
        return per_job, per_job
    per_job = fit(b["max_cpus_per_job"], b["max_mem_per_job"])
    if math.ceil(tot / per_job) <= b["max_num_jobs"]:
        return per_job, per_job
    return math.ceil(tot / b["max_num_jobs"]), per_job


def test_memory_conversion_keeps_batching_and_job_memory_as_fractal_has_them() -> None:
    # "1G" per task beside 10000 (MB) per job: fractal fits 10 tasks in a job; read as
    # 1024 MiB they would be 9.
    resource = docs_resource()
    runner(resource)["default_slurm_config"]["mem"] = "1G"
    batching = {"target_cpus_per_job": 64, "max_cpus_per_job": 64, "target_mem_per_job": 10000,
                "max_mem_per_job": "20G", "target_num_jobs": 100, "max_num_jobs": 100}  # fmt: skip
    runner(resource)["batching_config"] = batching
    imported = import_fractal(resource, SUDO_PROFILE, USER)
    plan = compile_plan(imported.config, imported.profile or {}, tasks(20))
    (group,) = plan.groups
    in_mb = {**batching, "max_mem_per_job": 20000}
    assert (group.tasks_per_job, group.parallel_tasks_per_job) == fractal_heuristics(
        20, 1, 1000, in_mb
    )
    assert (group.tasks_per_job, group.mem_per_task_mb) == (10, 1000)
    # each job asks what fractal's --mem=<parallel tasks * MB>M asks
    assert [job.mem_mb for job in plan.jobs] == [10000, 10000]
    # Without the conversion, slurmplan's own reading of "1G" batches differently.
    unconverted = copy.deepcopy(imported.config)
    unconverted["default_slurm_config"]["mem"] = "1G"
    assert compile_plan(unconverted, imported.profile or {}, tasks(20)).groups[0].tasks_per_job == 9


def test_sudo_profile() -> None:
    imported = import_fractal(docs_resource(), SUDO_PROFILE, USER)
    accounts = {"slurm_accounts": ["lab-a", "lab-b"]} if _profile_has_accounts() else {}
    assert imported.profile == {
        "username": "slurm-username", "transport": "sudo", "project_dir": "/data/user/project",
        # fractal's user cache dir, which user_local_exports are relative to
        "cache_dir": "/data/user/project/fractal/.fractal_cache", **accounts,
    }  # fmt: skip
    plan = compile_plan(imported.config, imported.profile or {}, tasks())
    assert plan.transport.kind.value == "sudo"
    assert plan.jobs[0].script_path.startswith("/somewhere/local-jobs/")
    script = plan.jobs[0].script
    assert "export NAPARI_CONFIG=/data/user/project/fractal/.fractal_cache/napari_config.json" in (
        script
    )
    assert has_line(imported.not_carried, "user: /project_dirs/1")
    assert has_line(imported.not_carried, "profile: /:", "job folders", "jobs_dir")


def test_ssh_profile() -> None:
    imported = import_fractal(docs_resource("slurm_ssh"), SSH_PROFILE, USER)
    profile = imported.profile or {}
    assert profile["transport"] == "ssh"
    assert profile["ssh"] == {
        "host": "slurm-cluster.example.org", "key_path": "/somewhere/private.key",
        "known_hosts_path": "/etc/ssh/ssh_known_hosts",
    }  # fmt: skip
    assert profile["jobs_dir"] == "/somewhere/jobs"
    assert profile["project_dir"] == "/data/user/project"
    assert has_line(imported.not_carried, "known_hosts_path", "/etc/ssh/ssh_known_hosts")
    for key in ("tasks_remote_dir", "pixi_cache_dir", "name"):
        assert has_line(imported.not_carried, f"profile: /{key}:"), key
    plan = compile_plan(imported.config, profile, tasks())
    assert plan.transport.ssh is not None
    assert plan.transport.ssh.host == "slurm-cluster.example.org"
    assert plan.workdir.startswith("/somewhere/jobs/")


@pytest.mark.parametrize("kind", ["slurm_sudo", "slurm_ssh"])
def test_a_docs_resource_compiles_end_to_end(kind: str) -> None:
    profile = SUDO_PROFILE if kind == "slurm_sudo" else SSH_PROFILE
    imported = import_fractal(docs_resource(kind), profile, USER)
    assert isinstance(imported, Imported)
    assert not has_line(imported.not_carried, "does not compile")
    for needs_gpu in (False, True):
        plan = compile_plan(imported.config, imported.profile or {}, tasks(5, needs_gpu=needs_gpu))
        # docs batching: 1 CPU and 500 MB per job at most, 4 jobs at most -> branch 4
        assert (plan.groups[0].tasks_per_job, plan.groups[0].parallel_tasks_per_job) == (2, 1)


def test_the_config_alone_compiles_without_a_profile() -> None:
    imported = import_fractal(docs_resource())
    assert imported.profile is None
    assert has_line(imported.not_carried, "resource: /type:", "--profile")
    assert not has_line(imported.not_carried, "does not compile")


def test_a_runner_config_alone_as_in_fractals_tests() -> None:
    # fractal's own test config: no cpus_per_task in the default (tasks' meta give it there)
    bare = {
        "default_slurm_config": {"partition": "main", "mem": "1G", "account": "acct",
                                 "extra_lines": ["export VAR=1"]},
        "gpu_slurm_config": {"partition": "gpu", "mem": "1G", "gres": "gpu:1",
                             "constraint": "gpuconstraint"},
        "batching_config": {"target_cpus_per_job": 10, "max_cpus_per_job": 12,
                            "target_mem_per_job": 10, "max_mem_per_job": 12,
                            "target_num_jobs": 5, "max_num_jobs": 10},
        "user_local_exports": {"SOME_CACHE_DIR": "SOME_CACHE_DIR"},
    }  # fmt: skip
    imported = import_fractal(bare)
    assert imported.config["default_slurm_config"]["mem"] == 1000
    assert imported.config["default_slurm_config"]["extra_lines"] == ["export VAR=1"]
    assert "scripts_dir" not in imported.config
    assert has_line(imported.not_carried, "default_slurm_config/cpus_per_task", "unset")
    assert has_line(imported.not_carried, "does not compile yet", "cpus_per_task")


def test_sbatch_extra_lines_with_a_field_become_that_field() -> None:
    resource = docs_resource()
    runner(resource)["default_slurm_config"].update(
        gres="gpu:1",
        extra_lines=[
            "#SBATCH --gres=gpu:2", "#SBATCH -A lab-a", "#SBATCH --time=01:30:00",
            "#SBATCH --partition main", "#SBATCH --constraint=\"intel\"", "#SBATCH --qos=high",
            "#SBATCH --licenses=matlab:1", "module load cuda",
        ],
    )  # fmt: skip
    imported = import_fractal(resource)
    default = imported.config["default_slurm_config"]
    keys = ("gres", "account", "time", "partition", "constraint", "qos")
    assert {k: default[k] for k in keys} == {
        "gres": "gpu:2", "account": "lab-a", "time": "01:30:00", "partition": "main",
        "constraint": "intel", "qos": "high",
    }  # fmt: skip
    assert default["extra_lines"] == ["#SBATCH --licenses=matlab:1", "module load cuda"]
    # fractal writes its gres line, then the extra line: Slurm takes the extra line's
    assert has_line(imported.changes, "extra_lines/0", 'replacing "gpu:1"')
    assert not has_line(imported.not_carried, "does not compile")


def test_what_cannot_be_carried_is_reported() -> None:
    resource = docs_resource()
    default = runner(resource)["default_slurm_config"]
    default.update(time="02:00:00", extra_lines=[
        "#SBATCH --mem=4G", "#SBATCH --cpus-per-task=4", "#SBATCH --job-name=mine",
        "#SBATCH --wait", "#SBATCH --output=/tmp/x.out",
    ])  # fmt: skip
    runner(resource)["gpu_slurm_config"].update(time=None, mem=None)
    runner(resource)["user_local_exports"].update(UP="../outside", ABS="/opt/models dir")
    imported = import_fractal(resource, SUDO_PROFILE, USER)
    lines = imported.not_carried
    base = "resource: /jobs_runner_config/default_slurm_config/extra_lines/"
    assert has_line(lines, base + "0", "--mem=4G", "'mem'")
    assert has_line(lines, base + "1", "--cpus-per-task=4", "'cpus_per_task'")
    assert has_line(lines, base + "2", "--job-name")
    assert has_line(lines, base + "3", "--wait", "command line")
    assert has_line(lines, base + "4", "--output")
    assert imported.config["default_slurm_config"].get("extra_lines") == [
        "export ABS='/opt/models dir'"
    ]
    assert has_line(lines, "gpu_slurm_config/time", "null", '"02:00:00"')
    # fractal applies a GPU mem only when it is set: a null one clears nothing
    assert has_line(imported.changes, "gpu_slurm_config/mem", "null dropped")
    assert not has_line(lines, "gpu_slurm_config/mem")
    assert has_line(lines, "user_local_exports/UP", "climbs out")
    # an absolute export is carried, as fractal writes it: the path itself
    assert has_line(imported.changes, "user_local_exports/ABS", "extra line")
    assert "UP" not in imported.config["user_local_exports"]
    for key in ("name", "jobs_slurm_python_worker", "jobs_poll_interval", "tasks_local_dir",
                "tasks_python_config"):  # fmt: skip
        assert has_line(lines, f"resource: /{key}:"), key
    assert has_line(lines, "default_slurm_config/shebang_line", "#!/bin/sh")
    assert not has_line(lines, "does not compile")


def test_fields_fractals_gpu_jobs_lost_with_the_default_lines_are_reported() -> None:
    resource = docs_resource()
    runner(resource)["default_slurm_config"]["extra_lines"] = ["#SBATCH --qos=cpuonly"]
    imported = import_fractal(resource)
    assert imported.config["default_slurm_config"]["qos"] == "cpuonly"
    assert has_line(imported.not_carried, "gpu_slurm_config/extra_lines", "'qos'")


def test_a_text_of_several_lines_is_split() -> None:
    resource = docs_resource()
    runner(resource)["default_slurm_config"]["extra_lines"] = ["module load a\n\nmodule load b"]
    imported = import_fractal(resource)
    assert imported.config["default_slurm_config"]["extra_lines"] == [
        "module load a", "module load b",
    ]  # fmt: skip
    assert has_line(imported.changes, "extra_lines/0", "split")


def _profile_has_accounts() -> bool:
    return "slurm_accounts" in schema("user_profile").get("properties", {})


def test_slurm_accounts_are_carried_only_if_the_profile_has_them() -> None:
    imported = import_fractal(docs_resource(), SUDO_PROFILE, USER)
    profile = imported.profile or {}
    if _profile_has_accounts():
        assert profile["slurm_accounts"] == ["lab-a", "lab-b"]
        assert has_line(imported.changes, "user: /slurm_accounts")
    else:
        assert "slurm_accounts" not in profile
        assert has_line(imported.not_carried, "user: /slurm_accounts")


def _problems(resource: Any, profile: Any = None, user: Any = None) -> list[str]:
    with pytest.raises(FractalImportError) as caught:
        import_fractal(resource, profile, user)
    return [f"{p.document}: {p.pointer}: {p.message}" for p in caught.value.problems]


def test_what_fractal_would_refuse_is_refused_with_every_problem() -> None:
    resource = docs_resource()
    runner(resource)["default_slurm_config"]["cpus_per_tsk"] = 2
    runner(resource)["batching_config"]["max_num_jobs"] = None
    runner(resource)["extra"] = 1
    problems = _problems(resource)
    assert problems == [
        "resource: /jobs_runner_config/extra: expected a key of fractal's SLURM runner config "
        "(default_slurm_config, gpu_slurm_config, batching_config, user_local_exports) "
        '(got "extra")',
        "resource: /jobs_runner_config/default_slurm_config/cpus_per_tsk: expected a key of "
        "fractal's slurm config (partition, cpus_per_task, mem, constraint, gres, exclude, "
        "nodelist, nodes, time, account, extra_lines, gpus, shebang_line, use_mem_per_cpu) "
        '(got "cpus_per_tsk")',
        "resource: /jobs_runner_config/batching_config/max_num_jobs: expected a positive "
        "integer (fractal requires it) (got null)",
    ]


@pytest.mark.parametrize(
    ("resource", "profile", "user", "expected"),
    [
        ({"type": "local", "jobs_runner_config": {"parallel_tasks_per_job": 1}}, None, None,
         'resource: /type: expected "slurm_sudo" or "slurm_ssh" (a local resource runs no SLURM '
         'jobs) (got "local")'),
        ([1], None, None, "resource: : expected a JSON object (got [1])"),
        ({"name": "x"}, None, None, "resource: /jobs_runner_config: expected a fractal-server "
         "resource with a SLURM 'jobs_runner_config' (or that config alone) (got no "
         "'jobs_runner_config')"),
        (docs_resource(), SSH_PROFILE, USER, 'profile: /resource_type: expected the resource\'s '
         'type "slurm_sudo" (got "slurm_ssh")'),
        (docs_resource(), SUDO_PROFILE, None, "user: /project_dirs: expected the fractal user's "
         "'project_dirs', a list of absolute paths (fractal keeps them on the user, not the "
         "profile: pass the user's JSON too) (got no user)"),
        (docs_resource(), {**SUDO_PROFILE, "username": None}, USER,
         "profile: /username: expected the user's name on the cluster (got null)"),
        ({**docs_resource("slurm_ssh"), "host": None}, SSH_PROFILE, USER, "resource: /host: "
         "expected the cluster's host name (a slurm_ssh resource has one) (got null)"),
    ],
)  # fmt: skip
def test_bad_shapes_name_the_document_and_pointer(
    resource: Any, profile: Any, user: Any, expected: str
) -> None:
    assert expected in _problems(resource, profile, user)


def test_the_inputs_are_not_changed() -> None:
    resource, profile, user = docs_resource("slurm_ssh"), dict(SSH_PROFILE), copy.deepcopy(USER)
    before = copy.deepcopy((resource, profile, user))
    import_fractal(resource, profile, user)
    assert (resource, profile, user) == before
