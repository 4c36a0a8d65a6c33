"""The run commands' numbers of seconds are refused at parsing when they mean nothing:
NaN, an infinity, 1e400 (an infinity once read), a negative number, 0 where it would mean
"at once" (a command killed as it starts, a poll loop that never sleeps), or more than a
wait can last (Python's timeouts overflow past about 24 days).  Before this, they reached
the retry and poll loops: ValueError and OverflowError tracebacks, or a wait that never
polled again.  Only the parser runs here: nothing can hang or run."""

from __future__ import annotations

import pytest

from slurmplan.effects.cli import build_parser

BAD = (
    [
        (command, option, value)
        for command in ("submit", "status", "wait", "cancel", "collect", "fetch", "report")
        for option, values in {
            "--command-timeout": ["nan", "inf", "-inf", "1e400", "0", "-5", "1e7"],
            "--retry-delay": ["nan", "inf", "-1", "1e308"],
            "--retry-max-seconds": ["nan", "inf", "-1"],
        }.items()
        for value in values
    ]
    + [
        (command, option, value)
        for command in ("submit", "wait")
        for option in ("--poll-interval", "--poll-max")
        for value in ("nan", "inf", "1e308", "0", "-1")
    ]
    + [("wait", "--timeout", value) for value in ("nan", "inf", "-1", "1e400")]
)


def _argv(command: str, *options: str) -> list[str]:
    return [command, "plan.json", *(["DEST"] if command == "fetch" else []), *options]


@pytest.mark.parametrize(("command", "option", "value"), BAD)
def test_a_number_of_seconds_that_means_nothing_is_refused_at_parsing(
    capsys: pytest.CaptureFixture[str], command: str, option: str, value: str
) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(_argv(command, f"{option}={value}"))
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"error: argument {option}: must be a finite number of seconds" in err
    assert err.rstrip().endswith(f"(got '{value}')"), err


@pytest.mark.parametrize(
    ("command", "option", "value", "got"),
    [
        ("wait", "--timeout", "0", 0.0),  # poll once, then exit 4 if not everything settled
        ("wait", "--timeout", "86400e3", 86_400_000.0),  # a budget, not one wait: 1,000 days
        ("status", "--retry-delay", "0", 0.0),
        ("status", "--retry-max-seconds", "0", 0.0),
        ("status", "--command-timeout", "0.5", 0.5),
        ("status", "--command-timeout", "1e6", 1e6),
        ("wait", "--poll-interval", "0.3", 0.3),
        ("submit", "--poll-max", "1", 1.0),
    ],
)
def test_the_numbers_that_mean_something_still_parse(
    command: str, option: str, value: str, got: float
) -> None:
    args = build_parser().parse_args(_argv(command, option, value))
    assert getattr(args, option[2:].replace("-", "_")) == got


@pytest.mark.parametrize("command", ["submit", "status", "wait", "cancel", "collect", "fetch"])
@pytest.mark.parametrize("value", ["-1", "-5"])
def test_a_negative_number_of_retries_is_refused_at_parsing_naming_the_option(
    capsys: pytest.CaptureFixture[str], command: str, value: str
) -> None:
    """README: errors name the field, the expected form and the value received.  --retries
    -1 was refused only once the command ran, in the words of an internal class:
    "RetryPolicy needs retries >= 0 and 0 <= first_delay <= max_delay (got retries=-1, ..."."""
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(_argv(command, f"--retries={value}"))
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument --retries: must be a whole number, 0 or more (got '{value}')" in err
    assert build_parser().parse_args(_argv(command, "--retries", "0")).retries == 0
