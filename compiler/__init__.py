"""slurmplan's pure core: (runner config, user profile, task list) -> Plan.

No I/O, clock, randomness or environment here (tests/test_purity.py walks the
imports).  The static schemas and templates are read once, at import.
"""

from compiler.compile import compile_plan
from compiler.errors import CompileError, Problem, SlurmplanError, Source
from compiler.passes.plan_id import compute_plan_id
from compiler.plan import (
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
from compiler.transport import SshTarget, Transport, TransportKind

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
