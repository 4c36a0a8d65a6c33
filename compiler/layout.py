"""Where a plan's files live: pure string work on absolute POSIX paths.

<jobs_dir>/<name>-<plan_id[:12]>/            the workdir (the jobs' --chdir)
    job-000000.sbatch                        the script (sudo: under scripts_dir)
    job-000000.out / .err                    the job's own stdout / stderr; stdout starts
                                             "slurmplan-start job=0 slurm_job=ID name=NAME"
    job-000000.lane-00.status                "# slurmplan-lane job=0 slurm_job=ID run=RUN",
                                             then "<task id> <exit code> <slurm job id>
                                             <start> <end>" per finished task
    job-000000.done                          "slurmplan-done job=0 slurm_job=ID run=RUN
                                             tasks=N failed=K"
    tasks/<id>.out / .err                    each task's stdout / stderr

Each run of a plan writes the same files; a marker or lane file counts for a run only
when it names that run (RUN: the last word of the job's Slurm name) and the Slurm job id
the run's journal holds (and a start line only when it names that run's job name).

Over ssh one more file, outside the workdir: the plan's lock on the cluster,
`~/.slurmplan-<name>-<plan_id[:12]>.lock` (cluster_lock_file).
"""

from __future__ import annotations

import posixpath

TASKS_SUBDIR = "tasks"


def run_folder_name(name: str, plan_id: str) -> str:
    return f"{name}-{plan_id[:12]}"


def cluster_lock_file(name: str, plan_id: str) -> str:
    """The file whose flock an ssh submit round holds, and every look-up that decides
    whether a job is sent again takes first (compiler.runtime.commands.under_cluster_lock).
    Relative, so in the user's home, where ssh starts each command: it exists before any
    folder of the plan (a look-up may run before the workdir is made), and the file is
    not in the workdir listing that observe and fetch read.  One per plan, so that it
    also orders the runs of a plan (a lost journal's round against a new run's look-up).
    The leading dot keeps it out of `ls` and a name starting with `-` off flock's options."""
    return f".slurmplan-{run_folder_name(name, plan_id)}.lock"


def job_name(name: str, plan_id: str, index: int) -> str:
    """The Slurm job name: unique per plan and job, so a job can be found again by name."""
    return f"{name}.{plan_id[:8]}.{index}"


def run_job_name(job_name: str, run: str) -> str:
    """The name one run gives the job in Slurm (sbatch --job-name): the plan's job name
    and the run's id, so runs of one plan never take each other's jobs for their own."""
    return f"{job_name}.{run}"


def job_stem(index: int) -> str:
    return f"job-{index:06d}"


def lane_status_files(index: int, ntasks: int) -> list[str]:
    """Job `index`'s lanes' status files, relative to the workdir (the script runs there)."""
    stem = job_stem(index)
    return [f"{stem}.lane-{lane:02d}.status" for lane in range(ntasks)]


def done_file(index: int) -> str:
    return f"{job_stem(index)}.done"


def task_output(task_id: str, stream: str) -> str:
    """Relative to the workdir; `stream` is 'out' or 'err'."""
    return f"{TASKS_SUBDIR}/{task_id}.{stream}"


def join(directory: str, relative: str) -> str:
    return posixpath.join(directory, relative)


def join_all(directory: str, relatives: list[str]) -> tuple[str, ...]:
    """`join(directory, r)` for each r, none of them absolute: the directory's own
    prefix (with its one trailing slash) is found once and put in front of each."""
    prefix = posixpath.join(directory, "")
    return tuple(map(prefix.__add__, relatives))
