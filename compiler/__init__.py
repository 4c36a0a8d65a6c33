"""slurmplan's pure core: (runner config, user profile, task list) -> Plan.

No I/O, clock, randomness or environment here (tests/test_purity.py walks the
imports).  The static schemas and templates are read once, at import.
"""

# This folder is installed as slurmplan.compiler (pyproject.toml); in the repo,
# slurmplan/compiler links here.  Imported as a top-level `compiler` it would be a second
# copy with its own classes, which isinstance and except clauses would not recognise.
if __name__ != "slurmplan.compiler":
    raise ImportError(f"import slurmplan.compiler, not {__name__}")

from slurmplan.compiler.compile import compile_plan
from slurmplan.compiler.errors import CompileError, Problem, SlurmplanError, Source
from slurmplan.compiler.passes.plan_id import compute_plan_id
from slurmplan.compiler.plan import (
    GroupSummary,
    Job,
    MkdirStep,
    Plan,
    PlanWarning,
    Step,
    SubmitStep,
    UploadStep,
    WriteStep,
    plan_from_json,
)
from slurmplan.compiler.transport import SshTarget, Transport, TransportKind

__all__ = [
    "CompileError",
    "GroupSummary",
    "Job",
    "MkdirStep",
    "Plan",
    "PlanWarning",
    "Problem",
    "SlurmplanError",
    "Source",
    "SshTarget",
    "Step",
    "SubmitStep",
    "Transport",
    "TransportKind",
    "UploadStep",
    "WriteStep",
    "compile_plan",
    "compute_plan_id",
    "plan_from_json",
]
