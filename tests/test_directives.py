"""The directive table (compiler/slurm/directives.py) is the one list of the #SBATCH
options the compiler owns: the schema, the settings, the owned options and the
template all follow it (docs/architecture.md §4)."""

from __future__ import annotations

import re
from typing import Any

from sample_inputs import config, profile, tasks

from slurmplan.compiler import compile_plan, package_files
from slurmplan.compiler.slurm.directives import (
    DIRECTIVES,
    FIELD_OPTIONS,
    OWNED_ELSEWHERE,
    OWNED_OPTIONS,
    directive_lines,
    option_of,
)
from slurmplan.compiler.slurm.settings import Resources, Settings, ordered

PLAIN_FIELDS = set(FIELD_OPTIONS.values())
# slurm_config fields that are not a plain directive: the compiler works them out.
COMPUTED_FIELDS = {
    "partition", "cpus_per_task", "mem", "time", "time_per_task", "extra_lines",
    "shebang_line", "use_mem_per_cpu",
}  # fmt: skip


def _slurm_config_schema() -> dict[str, Any]:
    schema: dict[str, Any] = package_files.schema("runner_config")["$defs"]["slurm_config"]
    return schema


def test_the_schema_has_a_property_for_each_plain_field_and_no_other() -> None:
    properties = _slurm_config_schema()["properties"]
    assert set(properties) == set(PLAIN_FIELDS) | COMPUTED_FIELDS
    for directive in DIRECTIVES:
        if directive.field is not None:
            assert properties[directive.field] == {"$ref": f"#/$defs/{directive.form}"}


def test_every_plain_field_has_a_form_and_every_form_exists() -> None:
    defs = package_files.schema("runner_config")["$defs"]
    for directive in DIRECTIVES:
        assert (directive.field is None) == (directive.form is None), directive
        if directive.form is not None:
            assert directive.form in defs


def test_owned_options_are_the_computed_directives_and_the_few_elsewhere() -> None:
    computed = {o for d in DIRECTIVES if d.field is None for o in (d.option, *d.also)}
    assert computed | OWNED_ELSEWHERE == OWNED_OPTIONS
    assert not OWNED_OPTIONS & set(FIELD_OPTIONS)


def test_settings_and_resources_carry_the_plain_fields_as_options_in_table_order() -> None:
    names = set(Resources.__dataclass_fields__)
    assert not names & set(PLAIN_FIELDS), "plain fields live in Resources.options"
    assert "options" in names and "options" in Settings.__dataclass_fields__
    shuffled = {"nodes": "1", "account": "a", "constraint": "c"}
    assert [option for option, _ in ordered(shuffled)] == ["constraint", "account", "nodes"]


def test_the_template_writes_no_directive_of_its_own() -> None:
    template = package_files.template_text("job.sbatch.j2")
    assert re.findall(r"^#SBATCH", template, flags=re.MULTILINE) == []


def test_directive_lines_follow_the_table_and_skip_unset_ones() -> None:
    values = {
        "chdir": "/w", "nodes": "2", "mem-per-cpu": "10M", "partition": "p", "error": "/e",
    }  # fmt: skip
    before, after = directive_lines(values)
    assert before == ["#SBATCH --partition=p", "#SBATCH --mem-per-cpu=10M", "#SBATCH --nodes=2"]
    assert after == ["#SBATCH --error=/e", "#SBATCH --chdir=/w"]


def test_every_plain_field_reaches_the_script_in_table_order() -> None:
    values = {
        "constraint": "c1", "gres": "gpu:1", "gpus": "1", "account": "lab", "qos": "high",
        "exclude": "n1", "nodelist": "n2", "nodes": 1,
    }  # fmt: skip
    assert set(values) == set(PLAIN_FIELDS)
    plan = compile_plan(config(**values), profile(), tasks(1))
    written = re.findall(r"^#SBATCH --([a-z-]+)=", plan.jobs[0].script, flags=re.MULTILINE)
    table = [d.option for d in DIRECTIVES]
    assert [o for o in written if o in table] == [o for o in table if o in written]
    for field, value in values.items():
        assert f"#SBATCH --{option_of(field)}={value}\n" in plan.jobs[0].script
