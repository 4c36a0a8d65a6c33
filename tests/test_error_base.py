"""One base for every error slurmplan raises on purpose (docs/architecture.md §7)."""

from __future__ import annotations

from slurmplan.compiler import CompileError, SlurmplanError
from slurmplan.compiler.errors import Refused, UnknownTask
from slurmplan.compiler.passes.batch import BatchingError
from slurmplan.compiler.runtime.journal_state import JournalError
from slurmplan.compiler.slurm.parsers import ParseError
from slurmplan.compiler.slurm.units import FormatError
from slurmplan.effects.cli.inputs_io import InputError
from slurmplan.effects.errors import ExecutionError, Interrupted
from slurmplan.effects.observe import NotSubmitted


def test_every_error_slurmplan_raises_on_purpose_has_one_base() -> None:
    compiler_errors = (CompileError, BatchingError, JournalError, ParseError, FormatError,
                       Refused, UnknownTask)  # fmt: skip
    effects_errors = (ExecutionError, Interrupted, NotSubmitted, InputError)
    for error in (*compiler_errors, *effects_errors):
        assert issubclass(error, SlurmplanError), error
