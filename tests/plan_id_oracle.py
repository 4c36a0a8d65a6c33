"""compute_plan_id's docstring written out plainly, for tests to compare it with: no
slices, no joins in pieces, no arrays (tests/test_plan_id.py,
property_tests/test_task_scan_props.py)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

FORMAT = "slurmplan/2"


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def columns_id(config: Any, profile: Any, task_list: dict[str, Any]) -> str:
    """The id of inputs whose tasks fit the columns (valid inputs do)."""
    tasks = task_list["tasks"]
    rest = {key: value for key, value in task_list.items() if key != "tasks"}
    extra = [i for i, task in enumerate(tasks) if task.keys() & {"env", "meta", "outputs"}]
    columns = [
        canonical([FORMAT, config, profile, rest]),
        "\x00".join(task["id"] for task in tasks).encode("utf-8", "surrogatepass"),
        b"".join(len(task["command"]).to_bytes(8, "little") for task in tasks),
        "\x00".join(w for task in tasks for w in task["command"]).encode("utf-8", "surrogatepass"),
        b"".join(i.to_bytes(8, "little") for i in extra),
        canonical([tasks[i].get("env") for i in extra]),
        canonical([tasks[i].get("meta") for i in extra]),
    ]
    if any("outputs" in task for task in tasks):  # only then: ids of lists without stay
        columns.append(canonical([tasks[i].get("outputs") for i in extra]))
    digests = b"".join(hashlib.sha256(column).digest() for column in columns)
    return hashlib.sha256(b"slurmplan-plan-id/2" + digests).hexdigest()[:16]


def json_id(config: Any, profile: Any, task_list: Any) -> str:
    """The id of inputs of any other shape: their canonical JSON."""
    return hashlib.sha256(canonical([FORMAT, config, profile, task_list])).hexdigest()[:16]
