"""The run-time commands of the CLI: submit, status, wait, cancel, collect, fetch.

Exit status (docs/effects.md): 0 done (wait: every task exited 0); 1 wait: some task
failed, was lost or killed, or its job was refused by sbatch; fetch: a task that did
not end in this run or a file missing; 2 bad input (a plan or journal that cannot be
used, wait on jobs not submitted yet, fetch of a task the plan does not have or into
the workdir, an option out of range); 3 a command failed for good
(the message quotes it and its stderr), the plan was cancelled, submit found
jobs of the plan still queued or running that the journal does not record (a
journal deleted, emptied or cut short; the message names them), or the journal
was deleted, replaced or cut short under a running command; 4 wait timed
out; 130 interrupted (run the same command again to resume).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import signal
import sys
from collections.abc import Callable, Iterator

from slurmplan.compiler import Plan
from slurmplan.compiler.runtime.journal_state import JournalError
from slurmplan.compiler.runtime.retry import MAX_BUDGET_S, MAX_WAIT_S, PollPolicy, RetryPolicy
from slurmplan.compiler.runtime.settle import JobView, TaskResult
from slurmplan.compiler.slurm.parsers import ParseError
from slurmplan.compiler.slurm.states import RunState
from slurmplan.effects.cli.inputs_io import InputError
from slurmplan.effects.cli.plan_files import load_plan
from slurmplan.effects.cli.progress import Progress
from slurmplan.effects.cli.tables import table_text
from slurmplan.effects.errors import ExecutionError, Interrupted
from slurmplan.effects.execute import Executor, prepare_transport
from slurmplan.effects.fetch import FetchIncomplete
from slurmplan.effects.journal import default_path
from slurmplan.effects.observe import NotSubmitted, describe
from slurmplan.effects.run import Run

EXIT_OK, EXIT_TASKS_FAILED, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_TIMEOUT = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130

Command = Callable[[argparse.Namespace], int]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


LINES = 20  # task lines wait and fetch print at most; a count says how many more


def _more(count: int, what: str) -> None:
    if count > LINES:
        _stderr(f"... and {count - LINES} more task(s) {what}")


def guarded(name: str, command: Command) -> Command:
    """Errors of carrying out a plan become one clear message and an exit status."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except JournalError as error:  # its message names the journal file (and line)
            raise InputError([str(error)]) from None
        except NotSubmitted as error:
            raise InputError([f"{args.plan}: {error}"]) from None
        except ExecutionError as error:
            _stderr(f"slurmplan {name}: {error}")
        except (Interrupted, ParseError) as error:
            _stderr(f"slurmplan {name}: {error}")
        except OSError as error:  # a script or folder the runner cannot write
            where = f"{error.filename}: " if error.filename else ""
            _stderr(f"slurmplan {name}: {where}{error.strerror or error}")
        except KeyboardInterrupt:
            _stderr(f"slurmplan {name}: interrupted; run the same command again to resume")
            return EXIT_INTERRUPTED
        return EXIT_FAILED

    return run


def _executor(args: argparse.Namespace, report: Callable[[str], None]) -> Executor:
    try:
        policy = RetryPolicy(
            retries=args.retries,
            first_delay=args.retry_delay,
            max_delay=max(args.retry_delay, 30.0),
            max_seconds=args.retry_max_seconds,
        )
    except ValueError as error:
        raise InputError([str(error)]) from None
    return Executor(policy=policy, timeout=args.command_timeout, report=report)


def _poll_policy(args: argparse.Namespace) -> PollPolicy:
    try:
        return PollPolicy(first=args.poll_interval, max=max(args.poll_interval, args.poll_max))
    except ValueError as error:
        raise InputError([str(error)]) from None


def journal_path(args: argparse.Namespace) -> str:
    return str(args.journal) if args.journal else default_path(args.plan)


def load_run_plan(args: argparse.Namespace) -> Plan:
    plan = load_plan(args.plan)
    prepare_transport(plan)
    return plan


def run_of_args(
    args: argparse.Namespace, plan: Plan, report: Callable[[str], None] = _stderr
) -> Run:
    """The command line's commands are the library's: one Run of the plan's journal."""
    poll = _poll_policy(args) if hasattr(args, "poll_interval") else None  # submit, wait
    return Run(plan, journal_path(args), poll=poll, executor=_executor(args, report))


def _cmd_submit(args: argparse.Namespace) -> int:
    plan = load_run_plan(args)
    progress = Progress(len(plan.jobs), "submit")
    report = run_of_args(args, plan, progress.note).submit(adopt=args.adopt, progress=progress)
    print(
        f"{report.total} jobs: {report.submitted} submitted now, {report.already} before"
        + (f", {report.found} found by name" if report.found else "")
        + (f", {report.ran} ran already" if report.ran else "")
        + (f", {report.adopted} adopted from run {report.adopted_from}" if report.adopted else "")
        + f"; journal {journal_path(args)}"
    )
    return EXIT_OK


def _view_json(view: JobView) -> dict[str, object]:
    return {
        "index": view.index,
        "name": view.name,
        "job_id": view.job_id,
        "state": view.state,
        "settled": view.settled,
        "tasks": view.tasks,
        "failed_tasks": view.failed_tasks,
        "reason": view.reason,
    }


def _cmd_status(args: argparse.Namespace) -> int:
    plan = load_run_plan(args)
    run = run_of_args(args, plan)
    views = run.poll_jobs()
    if args.json:
        out = {
            "plan_id": plan.plan_id,
            "run": run.run_id,
            "jobs": [_view_json(v) for v in views],
        }
        print(json.dumps(out, indent=2))
        return EXIT_OK
    rows = [
        [str(v.index), v.name, v.job_id or "-", v.state, str(v.tasks),
         "-" if v.failed_tasks is None else str(v.failed_tasks)]
        for v in views
    ]  # fmt: skip
    sys.stdout.write(table_text([["JOB", "NAME", "JOB_ID", "STATE", "TASKS", "FAILED"], *rows]))
    for view in views:  # why a job is REFUSED or LOST: below the table, not cut to a column
        if view.reason is not None:
            print(f"job {view.index}: {view.state}: {view.reason}")
    print(describe(views))
    return EXIT_OK


def _cmd_wait(args: argparse.Namespace) -> int:
    plan = load_run_plan(args)
    run = run_of_args(args, plan)
    try:
        with _sigterm_as_interrupt(args.cancel_on_interrupt):
            snap = run.wait(args.timeout, lambda s: _stderr(describe(s.jobs)))
    except KeyboardInterrupt:
        if not args.cancel_on_interrupt:
            _stderr(
                "slurmplan wait: interrupted; the jobs go on (nothing was cancelled): "
                "`slurmplan wait` again to go on waiting, `slurmplan cancel` to stop them"
            )
            return EXIT_INTERRUPTED
        ids = run.cancel(Progress(0, "cancel"))
        _stderr(f"slurmplan wait: interrupted; cancelled {len(ids)} job(s) (--cancel-on-interrupt)")
        return EXIT_INTERRUPTED
    if not snap.done:
        _stderr(f"slurmplan wait: not every job settled within {args.timeout:g} s")
        return EXIT_TIMEOUT
    results = snap.tasks
    failed = [r for r in results.values() if r.exit_code != 0]
    for result in failed[:LINES]:
        _stderr(_failure_line(result))
    _more(len(failed), "that did not succeed (`slurmplan collect` lists them all)")
    print(f"{len(results) - len(failed)}/{len(results)} tasks succeeded; {run.polls} polls")
    return EXIT_OK if snap.succeeded else EXIT_TASKS_FAILED


@contextlib.contextmanager
def _sigterm_as_interrupt(enabled: bool) -> Iterator[None]:
    """With --cancel-on-interrupt, SIGTERM (a service manager stopping us) is handled as
    Ctrl-C is: the jobs are cancelled before exiting."""
    if not enabled:
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _failure_line(result: TaskResult) -> str:
    """One task that did not succeed, for a person: its exit code only when it has one."""
    if result.state == RunState.REFUSED or (result.reason is not None and not result.job_id):
        # Never in Slurm (refused, or its run cancelled first): the reason says why.
        return f"task {result.task_id}: {result.state} (job {result.job}: {result.reason})"
    if result.state == RunState.LOST:
        return (
            f"task {result.task_id}: LOST ({result.reason}; "
            f"job {result.job_id or '?'}; stderr {result.stderr})"
        )
    code = "" if result.exit_code is None else f", exit code {result.exit_code}"
    if result.signal is not None:
        code += f", killed by {result.signal}"
    return (
        f"task {result.task_id}: {result.state}{code} "
        f"(job {result.job_id or '?'}; stderr {result.stderr})"
    )


def _cmd_cancel(args: argparse.Namespace) -> int:
    plan = load_run_plan(args)
    ids = run_of_args(args, plan).cancel(Progress(0, "cancel"))
    print(f"cancelled {len(ids)} job(s)" + (f": {' '.join(ids)}" if ids else ""))
    return EXIT_OK


def _result_row(result: TaskResult) -> list[str]:
    code = "-" if result.exit_code is None else str(result.exit_code)
    if result.signal is not None:
        code += f" {result.signal}"
    seconds = "-" if result.seconds is None else str(result.seconds)
    return [result.task_id, result.job_id or "-", result.state, code, seconds, result.stdout]


def _cmd_fetch(args: argparse.Namespace) -> int:
    plan = load_run_plan(args)
    try:
        fetched = run_of_args(args, plan).fetch(args.dest, args.task or None)
    except ValueError as error:  # a task id the plan does not have; a DEST in its workdir
        raise InputError([f"{args.plan}: {error}"]) from None
    except FetchIncomplete as error:
        for task_id, state in list(error.not_ended.items())[:LINES]:
            _stderr(f"task {task_id}: did not end in this run ({state}): nothing fetched")
        _more(len(error.not_ended), "that did not end in this run")
        for task_id, paths in list(error.missing.items())[:LINES]:
            _stderr(f"task {task_id}: not on the cluster: {', '.join(paths)}")
        _more(len(error.missing), "with files not on the cluster")
        said = [f"fetched {len(error.fetched)} file(s) into {args.dest}"]
        if error.not_ended:
            said.append(f"{len(error.not_ended)} task(s) did not end in this run")
        if error.missing:
            said.append(f"{sum(map(len, error.missing.values()))} missing")
        print("; ".join(said))
        return EXIT_TASKS_FAILED
    print(f"fetched {len(fetched)} file(s) into {args.dest}")
    return EXIT_OK


def _cmd_collect(args: argparse.Namespace) -> int:
    plan = load_run_plan(args)
    snap = run_of_args(args, plan).poll()
    results = snap.tasks
    if args.json:
        out = {
            "run": snap.run,
            "tasks": {task_id: r.to_json() for task_id, r in results.items()},
        }
        print(json.dumps(out, indent=2))
        return EXIT_OK
    rows = [_result_row(r) for r in results.values()]
    header = ["TASK", "JOB_ID", "STATE", "EXIT", "SECONDS", "STDOUT"]
    sys.stdout.write(table_text([header, *rows]))
    return EXIT_OK


def seconds(*, above_zero: bool, most: float) -> Callable[[str], float]:
    """An argparse type: a finite number of seconds, above 0 (or 0 or more), at most `most`:
    NaN, infinities (1e400 is one) and negative numbers reached the retry and poll loops."""
    least = "above 0" if above_zero else "0 or more"
    words = f"must be a finite number of seconds {least}, at most {most:,.0f}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        low_enough = value > 0 if above_zero else value >= 0
        if not (math.isfinite(value) and low_enough and value <= most):
            raise argparse.ArgumentTypeError(f"{words} (got {text!r})")
        return value

    return parse


def whole_number(text: str) -> int:
    """An argparse type: a whole number, 0 or more (--retries)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number, 0 or more (got {text!r})")
    return value


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan", metavar="PLAN", help="a plan written by `slurmplan compile`")
    parser.add_argument("--journal", metavar="FILE", help="the journal (default: PLAN.journal)")
    parser.add_argument(
        "--retries",
        type=whole_number,
        default=5,
        metavar="N",
        help="retries of a command that failed transiently (default 5)",
    )
    parser.add_argument(
        "--retry-delay",
        type=seconds(above_zero=False, most=MAX_WAIT_S),
        default=1.0,
        metavar="S",
        help="first wait before a retry; it doubles (default 1)",
    )
    parser.add_argument(
        "--retry-max-seconds",
        type=seconds(above_zero=False, most=MAX_BUDGET_S),
        default=300.0,
        metavar="S",
        help="give up retrying a command after this long (default 300)",
    )
    parser.add_argument("--command-timeout", type=seconds(above_zero=True, most=MAX_WAIT_S),
                        default=300.0, metavar="S",
                        help="kill a command still running after S (default 300)")  # fmt: skip


def _polling(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--poll-interval",
        type=seconds(above_zero=True, most=MAX_WAIT_S),
        default=2.0,
        metavar="S",
        help=f"first wait between {what} (default 2); grows while nothing changes",
    )
    parser.add_argument("--poll-max", type=seconds(above_zero=True, most=MAX_WAIT_S),
                        default=30.0, metavar="S",
                        help=f"longest wait between {what} (default 30)")  # fmt: skip


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds submit/status/wait/cancel/collect."""
    p = subparsers.add_parser("submit", help="submit a plan's jobs (resumable; journaled)")
    add_run_options(p)
    _polling(p, "queue checks when submission.max_jobs_in_queue is reached")
    p.add_argument(
        "--adopt",
        action="store_true",
        help="take the jobs of another run of this plan still in Slurm (its journal lost) "
        "into this journal instead of stopping; they are not sent again",
    )
    p.set_defaults(run=guarded("submit", _cmd_submit))

    p = subparsers.add_parser("status", help="each job's state (one squeue for all jobs)")
    add_run_options(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=guarded("status", _cmd_status))

    p = subparsers.add_parser("wait", help="wait until every job ended; exit 0 iff all tasks did")
    add_run_options(p)
    _polling(p, "polls")
    p.add_argument(
        "--timeout",
        type=seconds(above_zero=False, most=MAX_BUDGET_S),
        metavar="S",
        help="give up after S seconds, the last poll at S (exit 4; 0: poll once)",
    )
    p.add_argument(
        "--cancel-on-interrupt",
        action="store_true",
        help="on Ctrl-C or SIGTERM, cancel the run's jobs (default: leave them running)",
    )
    p.set_defaults(run=guarded("wait", _cmd_wait))

    p = subparsers.add_parser("cancel", help="cancel every job of the plan (one scancel)")
    add_run_options(p)
    p.set_defaults(run=guarded("cancel", _cmd_cancel))

    p = subparsers.add_parser(
        "fetch",
        help="copy tasks' stdout/stderr and output files into DEST/tasks/ (ssh: one tar stream)",
    )
    add_run_options(p)
    p.add_argument("dest", metavar="DEST", help="the local folder to copy into")
    p.add_argument("--task", action="append", metavar="ID", help="only this task (repeatable)")
    p.set_defaults(run=guarded("fetch", _cmd_fetch))

    p = subparsers.add_parser("collect", help="per task: exit code, state, job id, log paths")
    add_run_options(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=guarded("collect", _cmd_collect))
