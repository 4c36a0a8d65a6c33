"""Job and task states are closed enums (docs/architecture.md §6): Slurm's own, and
where a job or task of a run stands, which adds slurmplan's words to Slurm's."""

from __future__ import annotations

import pytest

from slurmplan.compiler.slurm.signals import signal_name
from slurmplan.compiler.slurm.states import RunState, SlurmState


def test_every_slurm_state_is_a_run_state_of_the_same_word() -> None:
    for state in SlurmState:
        assert RunState.of(state) is RunState(state.value)
        assert RunState.of(state) == state.value


def test_run_states_beyond_slurms_are_slurmplans_own() -> None:
    own = {s.value for s in RunState} - {s.value for s in SlurmState}
    assert own == {"NOT_SUBMITTED", "LOST", "REFUSED"}


def test_states_compare_equal_to_their_words() -> None:
    assert RunState.COMPLETED == "COMPLETED"
    assert f"{RunState.LOST}" == "LOST"


def test_every_run_state_of_slurmplans_own_has_its_meaning_in_the_docstring() -> None:
    own = {s.value for s in RunState} - {s.value for s in SlurmState}
    for word in own:
        assert f"{word}:" in (RunState.__doc__ or "")


@pytest.mark.parametrize(
    ("number", "name"),
    [(1, "SIGHUP"), (9, "SIGKILL"), (15, "SIGTERM"), (31, "SIGSYS"), (34, "SIGRTMIN"),
     (36, "SIGRTMIN+2"), (64, "SIGRTMIN+30"), (32, "signal 32"), (33, "signal 33")],
)  # fmt: skip
def test_linux_signal_names_whatever_system_slurmplan_runs_on(number: int, name: str) -> None:
    assert signal_name(number) == name
