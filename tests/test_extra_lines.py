"""compiler.slurm.extra_lines: which #SBATCH extra lines sbatch takes as we mean them
(docs/architecture.md §2.1).
"""

from __future__ import annotations

from typing import Any

import pytest
import sample_inputs

from slurmplan.compiler import CompileError, compile_plan
from slurmplan.compiler.slurm.extra_lines import (
    OWNED_OPTIONS,
    dedupe,
    directive_problem,
    is_directive,
)
from slurmplan.compiler.slurm.sbatch_options import LONG_OPTIONS, SHORT_OPTIONS

# The options the compiler owns (docs/architecture.md §2.1).
DESIGN_OWNED = {
    "ntasks", "cpus-per-task", "mem", "mem-per-cpu", "job-name", "output", "error", "chdir",
    "parsable", "array", "partition", "time",
}  # fmt: skip


def test_owned_set_is_the_designs_plus_mem_per_gpu() -> None:
    # --mem-per-gpu is added: sbatch refuses it beside --mem/--mem-per-cpu (docs/decisions.md).
    assert set(OWNED_OPTIONS) == DESIGN_OWNED | {"mem-per-gpu"}


def test_option_table_knows_sbatchs_short_letters() -> None:
    # From `sbatch --help` (Slurm 22.05): a sample of the short forms and what they stand for.
    expected = {
        "A": "account", "a": "array", "c": "cpus-per-task", "D": "chdir", "e": "error",
        "J": "job-name", "k": "no-kill", "L": "licenses", "n": "ntasks", "N": "nodes",
        "o": "output", "p": "partition", "q": "qos", "t": "time", "w": "nodelist",
        "x": "exclude", "C": "constraint", "G": "gpus",
    }  # fmt: skip
    for letter, name in expected.items():
        assert SHORT_OPTIONS[letter] == name
    for name in ("comment", "licenses", "mail-type", "time-min", "mem-bind", "exclusive"):
        assert name in LONG_OPTIONS


@pytest.mark.parametrize(
    "line",
    [
        "#SBATCH --licenses=x",
        "#SBATCH --comment=x",
        "#SBATCH --comment x",  # value after a space, as getopt reads it
        "#SBATCH --comment=x   ",  # trailing blanks are not part of the value
        '#SBATCH --comment="a b"',  # one double-quoted string without '#'
        "#SBATCH --mail-type=END,FAIL",
        "#SBATCH --time-min=10",  # not --time: a different, real option
        "#SBATCH --mem-bind=local",  # not --mem
        "#SBATCH --exclusive",  # flag without value
        "#SBATCH --requeue",
        "#SBATCH -k",  # short flag (--no-kill)
        "#SBATCH -L lic:1",  # short option with a value (--licenses)
        "#SBATCH\t--comment=tab",
    ],
)
def test_real_options_are_accepted(line: str) -> None:
    assert is_directive(line)
    assert directive_problem(line) is None


@pytest.mark.parametrize(
    ("line", "option"),
    [
        ("#SBATCH --no-such-option=1", "--no-such-option"),
        ("#SBATCH --memx=1", "--memx"),
        ("#SBATCH --time_min=10", "--time_min"),
        ("#SBATCH --comment:x", "--comment:x"),
        ("#SBATCH -j 3", "-j"),
        ("#SBATCH -Z", "-Z"),
    ],
)
def test_unknown_options_are_refused_naming_the_line(line: str, option: str) -> None:
    message = directive_problem(line)
    assert message is not None
    assert f"'{option}' is not an sbatch option" in message
    assert repr(line) in message


@pytest.mark.parametrize("name", sorted(DESIGN_OWNED))
def test_owned_long_options_are_refused_naming_the_line(name: str) -> None:
    line = f"#SBATCH --{name}=1" if name != "parsable" else "#SBATCH --parsable"
    message = directive_problem(line)
    assert message is not None
    assert f"'--{name}' is set by slurmplan itself" in message
    assert repr(line) in message


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("#SBATCH -t 10", "time"),
        ("#SBATCH -t10", "time"),
        ("#SBATCH -p debug", "partition"),
        ("#SBATCH -n 4", "ntasks"),
        ("#SBATCH -c 2", "cpus-per-task"),
        ("#SBATCH -J other", "job-name"),
        ("#SBATCH -o x.out", "output"),
        ("#SBATCH -e x.err", "error"),
        ("#SBATCH -D /tmp", "chdir"),
        ("#SBATCH -a 1-3", "array"),
    ],
)
def test_owned_short_options_are_refused(line: str, name: str) -> None:
    message = directive_problem(line)
    assert message is not None
    assert f"'--{name}' is set by slurmplan itself" in message
    assert repr(line) in message


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("#SBATCH --account=lab", "account"),
        ("#SBATCH -A lab", "account"),
        ("#SBATCH --qos=high", "qos"),
        ("#SBATCH -q high", "qos"),
        ("#SBATCH --constraint=c1", "constraint"),
        ("#SBATCH -C c1", "constraint"),
        ("#SBATCH --gres=gpu:1", "gres"),
        ("#SBATCH --gpus=1", "gpus"),
        ("#SBATCH -G 1", "gpus"),
        ("#SBATCH --exclude=n1", "exclude"),
        ("#SBATCH -x n1", "exclude"),
        ("#SBATCH --nodelist=n2", "nodelist"),
        ("#SBATCH -w n2", "nodelist"),
        ("#SBATCH --nodes=1", "nodes"),
        ("#SBATCH -N 1", "nodes"),
    ],
)
def test_field_options_point_to_their_field(line: str, field: str) -> None:
    # Otherwise a task list could set --account through extra_lines.
    message = directive_problem(line)
    assert message is not None
    assert f"set '{field}' instead" in message
    assert repr(line) in message


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("#SBATCH --part=debug", "'--part' means '--partition'"),  # sbatch takes prefixes
        ("#SBATCH --lic=x", "'--lic' means '--licenses'"),
        ("#SBATCH --ti=5", "ambiguous"),  # --time or --time-min
    ],
)
def test_abbreviated_options_are_refused(line: str, words: str) -> None:
    message = directive_problem(line)
    assert message is not None
    assert words in message
    assert repr(line) in message


@pytest.mark.parametrize(
    "line", ["#SBATCH --requeue yes", "#SBATCH --exclusive user", "#SBATCH -k on"]
)
def test_values_sbatch_would_not_read_are_refused(line: str) -> None:
    # getopt reads an optional value only when attached; a flag takes none at all
    message = directive_problem(line)
    assert message is not None
    assert "sbatch would not read" in message


@pytest.mark.parametrize(
    "line", ["#SBATCH --wait", "#SBATCH -W", "#SBATCH --wrap=ls", "#SBATCH --test-only"]
)
def test_command_line_only_options_are_refused(line: str) -> None:
    message = directive_problem(line)
    assert message is not None
    assert "command line" in message


@pytest.mark.parametrize(
    "line",
    [
        "#SBATCH --comment=a#b",  # sbatch would cut the value at '#'
        "#SBATCH --comment=x #y",
        '#SBATCH --comment="a#b"',
        "#SBATCH --comment=it's",
        "#SBATCH --comment='a b'",
        '#SBATCH --comment="a',
        "#SBATCH --comment=a\\b",
        "#SBATCH --comment=a b",
    ],
)
def test_values_with_hash_quotes_or_blanks_are_refused(line: str) -> None:
    message = directive_problem(line)
    assert message is not None
    assert "#SBATCH value" in message
    assert repr(line) in message


@pytest.mark.parametrize("line", ["#SBATCH --comment", "#SBATCH --comment=", "#SBATCH -L"])
def test_options_that_need_a_value_get_one(line: str) -> None:
    message = directive_problem(line)
    assert message is not None
    assert "needs a value" in message


@pytest.mark.parametrize(
    "line", ["#SBATCH", "#SBATCH ", "#SBATCHX --comment=1", "#SBATCH comment", "#SBATCH ---x"]
)
def test_malformed_directives_are_refused(line: str) -> None:
    assert is_directive(line)
    message = directive_problem(line)
    assert message is not None
    assert repr(line) in message


@pytest.mark.parametrize("line", ["export A=1", "module load cuda", " #SBATCH --time=1", "# note"])
def test_shell_lines_are_not_directives(line: str) -> None:
    assert not is_directive(line)


def test_dedupe_keeps_first_occurrence_in_order() -> None:
    assert dedupe(["a", "b", "a", "c", "b", "d"]) == ("a", "b", "c", "d")
    assert dedupe([]) == ()


# sbatch 22.05 refuses it beside --mem/--mem-per-cpu, one of which we always write.
def test_mem_per_gpu_conflicts_with_the_owned_mem() -> None:
    assert directive_problem("#SBATCH --mem-per-gpu=1G") is not None


# --- through compile_plan: pointers, placement, dedupe ------------------------------------


def _inputs(extra: list[str], meta_extra: list[str] | None = None) -> tuple[Any, Any, Any]:
    config = sample_inputs.config(extra_lines=extra)
    profile = sample_inputs.profile()
    tasks = sample_inputs.tasks(1, name="x", prefix="a")
    if meta_extra is not None:
        tasks["tasks"][0]["meta"] = {"extra_lines": meta_extra}
    return config, profile, tasks


def test_every_bad_line_is_reported_with_its_pointer() -> None:
    config, profile, tasks = _inputs(
        ["export OK=1", "#SBATCH --time=10", "#SBATCH --comment=ok", "#SBATCH --bogus"],
        meta_extra=["#SBATCH -p debug"],
    )
    with pytest.raises(CompileError) as caught:
        compile_plan(config, profile, tasks)
    found = {(p.source.value, p.pointer): p.message for p in caught.value.problems}
    assert set(found) == {
        ("config", "/default_slurm_config/extra_lines/1"),
        ("config", "/default_slurm_config/extra_lines/3"),
        ("tasks", "/tasks/0/meta/extra_lines/0"),
    }
    assert "'#SBATCH --time=10'" in found[("config", "/default_slurm_config/extra_lines/1")]
    assert "'#SBATCH -p debug'" in found[("tasks", "/tasks/0/meta/extra_lines/0")]


@pytest.mark.parametrize("bad", ["export A=1\nexport B=2", "x\ry", "a\x00b"])
def test_lines_with_newline_cr_or_nul_are_refused(bad: str) -> None:
    config, profile, tasks = _inputs(["export OK=1", bad])
    with pytest.raises(CompileError) as caught:
        compile_plan(config, profile, tasks)
    (problem,) = caught.value.problems
    assert problem.pointer == "/default_slurm_config/extra_lines/1"
    assert "without newline, CR or NUL" in problem.message


def test_directives_and_shell_lines_are_placed_apart_and_deduped() -> None:
    config, profile, tasks = _inputs(
        ["export A=1", "#SBATCH --comment=x", "export A=1", "module load m"],
        meta_extra=["#SBATCH --comment=x", "export B=2", "export A=1", "#SBATCH --requeue"],
    )
    script = compile_plan(config, profile, tasks).jobs[0].script
    lines = script.splitlines()
    # Each line once, at its first occurrence, directives before --output.
    for line in ("export A=1", "#SBATCH --comment=x", "module load m", "export B=2"):
        assert lines.count(line) == 1, line
    assert lines.index("#SBATCH --comment=x") < lines.index("#SBATCH --requeue")
    output = next(i for i, line in enumerate(lines) if line.startswith("#SBATCH --output="))
    assert lines.index("#SBATCH --requeue") < output
    assert output < lines.index("export A=1") < lines.index("module load m")
    assert lines.index("module load m") < lines.index("export B=2")
