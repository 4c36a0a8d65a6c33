"""compiler.slurm.units: Slurm's --mem and --time formats (docs/architecture.md §2.1).

Expected values are worked out by hand from the rules: memory is 1024-based,
a bare number is MiB, K rounds up to whole MiB; time fields are
days*86400 + hours*3600 + minutes*60 + seconds.
"""

from __future__ import annotations

from typing import Any

import pytest
import sample_inputs

from slurmplan.compiler import CompileError, compile_plan
from slurmplan.compiler.slurm.units import (
    FormatError,
    TimeLimit,
    format_time,
    parse_mem_mib,
    parse_time_seconds,
)

# --- memory -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "mib"),
    [
        (1, 1),  # an integer is MiB
        (2048, 2048),
        ("1", 1),  # a bare string number is MiB too (sbatch's default unit)
        ("500", 500),
        ("1M", 1),
        ("1m", 1),
        ("1MB", 1),
        ("1mb", 1),
        ("1Mb", 1),
        ("1G", 1024),  # 1024-based, not the reference's 1000
        ("4g", 4 * 1024),
        ("64GB", 64 * 1024),
        ("1gB", 1024),
        ("2T", 2 * 1024 * 1024),
        ("1tb", 1024 * 1024),
        ("1K", 1),  # 1 KiB rounds up to 1 MiB
        ("1024K", 1),
        ("1025K", 2),  # one KiB over a MiB rounds up
        ("2048k", 2),
        ("1536KB", 2),
        ("0001G", 1024),
    ],
)
def test_mem_parses_as_slurm_does(value: int | str, mib: int) -> None:
    assert parse_mem_mib(value) == mib


@pytest.mark.parametrize(
    "value",
    [0, "0", "0G", "0K", -1, -1024],  # zero (and below) is refused, not "no limit"
)
def test_mem_zero_or_negative_is_refused(value: int | str) -> None:
    with pytest.raises(FormatError, match="at least 1 MiB"):
        parse_mem_mib(value)


@pytest.mark.parametrize(
    "value",
    ["1.5G", "G", "", "1 G", " 1G", "1G ", "1GiB", "1P", "-1G", "1e3", "1G\n", "1BG", "one"],
)
def test_mem_malformed_is_refused(value: str) -> None:
    with pytest.raises(FormatError, match=r"<integer>\[K\|M\|G\|T\]"):
        parse_mem_mib(value)


def test_mem_bool_is_not_an_integer() -> None:
    with pytest.raises(FormatError):
        parse_mem_mib(True)


# --- time ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30", 30 * 60),  # minutes
        ("90", 90 * 60),  # the leading field may be any size
        ("30:15", 30 * 60 + 15),  # minutes:seconds
        ("90:30", 90 * 60 + 30),
        ("1:02:03", 3600 + 2 * 60 + 3),  # hours:minutes:seconds
        ("01:00:00", 3600),
        ("36:00:00", 36 * 3600),  # hours may exceed 24
        ("100:00:00", 100 * 3600),
        ("2-3", 2 * 86400 + 3 * 3600),  # days-hours
        ("2-3:04", 2 * 86400 + 3 * 3600 + 4 * 60),  # days-hours:minutes
        ("2-3:04:05", 2 * 86400 + 3 * 3600 + 4 * 60 + 5),  # days-hours:minutes:seconds
        ("0-1", 3600),
        ("10-0", 10 * 86400),
        ("0:59", 59),
        ("1:59:59", 3600 + 59 * 60 + 59),
    ],
)
def test_time_every_slurm_form(value: str, seconds: int) -> None:
    assert parse_time_seconds(value) == seconds


@pytest.mark.parametrize(
    "value",
    ["0", "UNLIMITED", "unlimited", "Unlimited", "INFINITE", "infinite", "00:00:00", "0:0", "0-0"],
)
def test_time_no_limit(value: str) -> None:
    assert parse_time_seconds(value) is None


# Measured on the real sbatch 22.05 (docs/slurm-formats.md): no field has an upper bound.
@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1:60", 2 * 60),  # sbatch: 00:02:00
        ("0:75", 75),  # sbatch rounds to 00:02:00; we keep the seconds, Slurm rounds
        ("1:00:60", 3600 + 60),  # sbatch: 01:01:00
        ("1:60:00", 2 * 3600),  # sbatch: 02:00:00
        ("1-24", 2 * 86400),  # sbatch: 2-00:00:00
        ("1-25:00:00", 2 * 86400 + 3600),  # sbatch: 2-01:00:00
        ("1-2:99", 86400 + 3 * 3600 + 39 * 60),  # sbatch: 1-03:39:00
        ("1:123", 60 + 123),  # sbatch reads the seconds field as given
        ("35791393", 35_791_393 * 60),  # the last limit sbatch stores without wrapping
    ],
)
def test_time_fields_have_no_upper_bound_as_in_slurm(value: str, seconds: int) -> None:
    assert parse_time_seconds(value) == seconds


@pytest.mark.parametrize("value", ["35791394", "24856-00:00:00", "596524:00:00"])
def test_time_beyond_slurms_32_bit_seconds_is_refused(value: str) -> None:
    with pytest.raises(FormatError, match="at most 24855-03:13:00"):
        parse_time_seconds(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "1h",
        "1:2:3:4",
        "-1",
        "1-",
        "-1-2",
        "1-2-3",
        "1.5",
        " 1",
        "1 ",
        "1:2:3 ",
        "1:",
        ":30",
        "1-2:3:4:5",
        "NEVER",
        "1\n",
    ],
)
def test_time_malformed(value: str) -> None:
    with pytest.raises(FormatError):
        parse_time_seconds(value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "UNLIMITED"),
        (59, "00:00:59"),
        (60, "00:01:00"),
        (3723, "01:02:03"),
        (86399, "23:59:59"),
        (86400, "1-00:00:00"),
        (36 * 3600, "1-12:00:00"),
        (2 * 86400 + 3 * 3600 + 4 * 60 + 5, "2-03:04:05"),
        (400 * 86400, "400-00:00:00"),
    ],
)
def test_canonical_time_format(seconds: int | None, text: str) -> None:
    assert format_time(seconds) == text


@pytest.mark.parametrize("text", ["1:02:03", "36:00:00", "2-03:04:05", "90", "30:15", "7-0"])
def test_canonical_form_reads_back(text: str) -> None:
    seconds = parse_time_seconds(text)
    assert parse_time_seconds(format_time(seconds)) == seconds


def test_time_limit_for_a_job() -> None:
    assert TimeLimit(seconds=600, per_task=True).for_job(3) == 1800
    assert TimeLimit(seconds=600, per_task=False).for_job(3) == 600
    assert TimeLimit(seconds=None, per_task=True).for_job(3) is None


# --- through compile_plan -----------------------------------------------------------------


def _inputs(default: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    return (
        sample_inputs.config(**default),
        sample_inputs.profile(),
        sample_inputs.tasks(1, name="u", prefix="a"),
    )


def test_time_over_24_hours_reaches_the_script_canonically() -> None:
    config, profile, tasks = _inputs({"time": "36:00:00"})
    plan = compile_plan(config, profile, tasks)
    assert plan.jobs[0].time == "1-12:00:00"
    assert "#SBATCH --time=1-12:00:00\n" in plan.jobs[0].script


def test_unlimited_time_is_written_as_unlimited() -> None:
    config, profile, tasks = _inputs({"time": "infinite"})
    plan = compile_plan(config, profile, tasks)
    assert plan.jobs[0].time == "UNLIMITED"
    assert "#SBATCH --time=UNLIMITED\n" in plan.jobs[0].script


def test_no_time_means_no_time_directive() -> None:
    config, profile, tasks = _inputs({})
    plan = compile_plan(config, profile, tasks)
    assert plan.jobs[0].time is None
    assert "--time" not in plan.jobs[0].script.split("_slurmplan_task()")[0]


def test_mem_is_mib_in_the_script() -> None:
    config, profile, tasks = _inputs({"mem": "1025K"})
    plan = compile_plan(config, profile, tasks)
    assert plan.jobs[0].mem_mb == 2
    assert "#SBATCH --mem=2M\n" in plan.jobs[0].script


@pytest.mark.parametrize(("field", "value"), [("mem", "0"), ("time", "99999999")])
def test_semantic_unit_errors_name_field_and_value(field: str, value: str) -> None:
    config, profile, tasks = _inputs({field: value})
    with pytest.raises(CompileError) as caught:
        compile_plan(config, profile, tasks)
    (problem,) = caught.value.problems
    assert problem.pointer == f"/default_slurm_config/{field}"
    assert problem.message.startswith(f"'{field}' must be ")
    assert problem.message.endswith(f"(got {value!r})")
