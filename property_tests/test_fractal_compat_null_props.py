"""JSON null for an optional field means unset (compiler/passes/nulls.py): valid inputs
with nulls added where the schemas allow a field compile to the same plan but its id
(the id is of the inputs as written, as compute_plan_id gives it), or to the same
problems."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from property_tests.strategies import Inputs, examples, valid_inputs
from slurmplan.compiler import CompileError, compile_plan, compute_plan_id
from slurmplan.compiler.passes.nulls import Node, optional_tree

NAMES = ("runner_config", "user_profile", "task_list")


def _spots(doc: Any, node: Node, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The paths where an optional field is not given."""
    out: list[tuple[Any, ...]] = []
    if isinstance(doc, list) and node.items is not None:
        for index, item in enumerate(doc):
            out += _spots(item, node.items, (*here, index))
    elif isinstance(doc, dict):
        out += [(*here, key) for key in sorted(node.optional) if key not in doc]
        for key, child in node.children.items():
            if key in doc:
                out += _spots(doc[key], child, (*here, key))
    return out


def _outcome(inputs: Inputs) -> str:
    try:
        plan = compile_plan(*inputs)
    except CompileError as error:
        return "\n".join(map(str, error.problems))
    assert plan.plan_id == compute_plan_id(*inputs)
    text = re.sub(f"{plan.plan_id[:8]}[0-9a-f]*", "ID", json.dumps(plan.to_json()))
    return re.sub("sha256:[0-9a-f]{64}", "sha256:...", text)  # of scripts naming the id


@examples(150)
@given(data=st.data(), inputs=valid_inputs())
def test_nulls_where_fields_may_be_left_out_change_nothing_but_the_id(
    data: st.DataObject, inputs: Inputs
) -> None:
    with_nulls = copy.deepcopy(list(inputs))
    for doc, name in zip(with_nulls, NAMES, strict=True):
        spots = _spots(doc, optional_tree(name))
        for path in data.draw(st.lists(st.sampled_from(spots), unique=True)) if spots else []:
            node = doc
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = None
    assert _outcome((with_nulls[0], with_nulls[1], with_nulls[2])) == _outcome(inputs)
