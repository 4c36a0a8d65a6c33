"""The #SBATCH directives the compiler writes: one ordered table.

Everything that knows about these options comes from this table: the order of
the directive lines in every script (compiler/passes/render.py), the plain
settings a runner config may give (`Resources.options`; tests/test_directives.py
holds runner_config.schema.json's slurm_config equal to it), and the options an
`#SBATCH` extra line may not set (compiler/slurm/extra_lines.py).

Adding a plain sbatch option (one whose value goes into the script as written):
one row here with `field` and `form`, and the same property in the schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Directive:
    """One `#SBATCH --<option>=<value>` line of a job script."""

    option: str  # sbatch's long option
    # The slurm-config field whose value is written as it is (None: the compiler
    # works the value out per job, and an extra line may not set the option).
    field: str | None = None
    form: str | None = None  # the field's `$defs` entry in schemas/runner_config.schema.json
    also: tuple[str, ...] = ()  # options written instead when the job asks (--mem-per-cpu)
    after_extra_lines: bool = False  # written after the extra #SBATCH lines


DIRECTIVES: tuple[Directive, ...] = (
    Directive(option="partition"),
    Directive(option="ntasks"),
    Directive(option="cpus-per-task"),
    Directive(option="mem", also=("mem-per-cpu",)),
    Directive(option="job-name"),
    Directive(option="constraint", field="constraint", form="constraint"),
    Directive(option="gres", field="gres", form="gres"),
    Directive(option="gpus", field="gpus", form="gres"),
    Directive(option="time"),
    Directive(option="account", field="account", form="word"),
    Directive(option="qos", field="qos", form="word"),
    Directive(option="exclude", field="exclude", form="hostlist"),
    Directive(option="nodelist", field="nodelist", form="hostlist"),
    Directive(option="nodes", field="nodes", form="nodes"),
    Directive(option="output", after_extra_lines=True),
    Directive(option="error", after_extra_lines=True),
    Directive(option="chdir", after_extra_lines=True),
)

# Options no directive line writes that an extra line may not set either.
OWNED_ELSEWHERE = frozenset(
    {
        "parsable",  # on sbatch's command line: how submit reads the job id
        "array",  # one job would become many, each running every task
        # sbatch refuses --mem-per-gpu beside the --mem/--mem-per-cpu we always write:
        # "--mem, --mem-per-cpu, and --mem-per-gpu are mutually exclusive".
        "mem-per-gpu",
    }
)

# Options the compiler writes itself; an extra line may not set them.
OWNED_OPTIONS = (
    frozenset(
        option
        for directive in DIRECTIVES
        if directive.field is None
        for option in (directive.option, *directive.also)
    )
    | OWNED_ELSEWHERE
)

# Option -> the field that sets it: an extra line setting one of these is told to
# set the field, so that the merge policy cannot be sidestepped.
FIELD_OPTIONS: Mapping[str, str] = {d.option: d.field for d in DIRECTIVES if d.field is not None}
_OPTION_OF_FIELD = {field: option for option, field in FIELD_OPTIONS.items()}


def option_of(field: str) -> str:
    """The sbatch option a plain field sets."""
    return _OPTION_OF_FIELD[field]


def directive_lines(values: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(the lines before the extra #SBATCH lines, the lines after), in table order.

    `values` maps an option (or one of its `also`) to its value; a directive with
    no value is left out.
    """
    before: list[str] = []
    after: list[str] = []
    for directive in DIRECTIVES:
        for option in (directive.option, *directive.also):
            value = values.get(option)
            if value is not None:
                (after if directive.after_extra_lines else before).append(
                    f"#SBATCH --{option}={value}"
                )
                break
    return before, after
