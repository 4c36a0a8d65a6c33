"""What a workflow server does with slurmplan: compile, submit, wait, report, fetch.

    python examples/workflow_server.py [CONFIG PROFILE TASKS [WORKDIR]]

Defaults: the testbed example (examples/testbed/, through sudo).  Exit 0 when every
task succeeded, 1 otherwise; on SIGTERM (a server shutting down) the run's jobs are
cancelled first.
"""

import json
import signal
import sys
import tempfile
import threading
from pathlib import Path

import slurmplan

HERE = Path(__file__).resolve().parent / "testbed"


def main(argv: list[str]) -> int:
    names = ("config.json", "profile-sudo.json", "tasks.json")
    config, profile, tasks = argv[:3] or [HERE / name for name in names]
    workdir = Path(argv[3] if len(argv) > 3 else tempfile.mkdtemp(prefix="wfs-"))
    workdir.mkdir(parents=True, exist_ok=True)  # the journal and the fetched outputs
    inputs = [json.loads(Path(p).read_text()) for p in (config, profile, tasks)]
    try:
        plan = slurmplan.compile_plan(*inputs)
    except slurmplan.CompileError as error:
        print(error, file=sys.stderr)
        return 2
    run = slurmplan.Run(plan, journal=workdir / "plan.journal")

    def stop(signum: int, frame: object) -> None:  # cancel from another thread: wait wakes
        threading.Thread(target=run.cancel).start()

    signal.signal(signal.SIGTERM, stop)
    report = run.submit()
    print(f"run {run.run_id}: {report.submitted} job(s) submitted", flush=True)

    def progress(snap: slurmplan.Snapshot) -> None:
        settled = sum(job.settled for job in snap.jobs)
        print(f"{settled}/{len(snap.jobs)} jobs settled", flush=True)

    snap = run.wait(timeout=600, on_change=progress)
    for task_id, task in snap.tasks.items():
        why = f" ({task.reason})" if task.reason else ""
        print(f"{task_id}: {task.state} exit={task.exit_code} seconds={task.seconds}{why}")
    try:  # logs into tasks/<id>.out and .err, a task's "outputs" into tasks/<id>.outputs/
        fetched = run.fetch(workdir / "outputs")
    except slurmplan.FetchIncomplete as error:
        fetched = error.fetched
        print(f"not ended in this run: {sorted(error.not_ended)}", file=sys.stderr)
        print(f"missing outputs: {sorted(error.missing)}", file=sys.stderr)
    print(f"fetched {len(fetched)} file(s) into {workdir / 'outputs'}")
    return 0 if snap.done and snap.succeeded else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
