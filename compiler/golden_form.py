"""The golden form of a plan: files a person reviews, whose diff is the change.

A plan's id is a hash of all its inputs, and it is in every path, job name and
script comment: one changed value would rewrite each of those lines. So in the
golden form the id is written once, literally, as `plan_id` in `plan.json`, and
everywhere else as a placeholder (`{plan_id}`, `{plan_id:12}`, `{plan_id:8}`: the
16 hex digits, and the prefixes of the workdir and of job names, `layout.py`).
Each job's script is its own file, `scripts/<basename>`, which `plan.json` names
in the job's `script` field instead of holding the text.

The form is exact: `plan_json_of(golden_texts(doc)) == doc`, so two plans with the
same golden files are the same plan. A literal `{plan_id` in any text is written
`{plan_id:{}`, so text cannot pass for a placeholder (`decode_text` reads each
placeholder and escape back).
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

PLAN_FILE = "plan.json"
SCRIPTS_DIR = "scripts"
# Top-level fields written as they are: the id itself, and the digest (a hash of the
# whole plan, which changes with it anyway).
_LITERAL = ("plan_id", "digest")
_ESCAPE = "{plan_id:{}"
_TOKENS = {"{plan_id}": 16, "{plan_id:12}": 12, "{plan_id:8}": 8, _ESCAPE: 0}
_DECODE = re.compile("|".join(re.escape(token) for token in _TOKENS))


def encode_text(text: str, plan_id: str) -> str:
    """`text` with the plan id (and its 12- and 8-digit prefixes) as placeholders."""
    found = [plan_id[:n] for n in (16, 12, 8)]  # longest first: the full id wins
    pattern = re.compile("|".join(map(re.escape, [*found, "{plan_id"])))
    names = {found[0]: "{plan_id}", found[1]: "{plan_id:12}", found[2]: "{plan_id:8}"}
    return pattern.sub(lambda m: names.get(m.group(), _ESCAPE), text)


def decode_text(text: str, plan_id: str) -> str:
    """The inverse of encode_text."""

    def value(match: re.Match[str]) -> str:
        n = _TOKENS[match.group()]
        return plan_id[:n] if n else "{plan_id"

    return _DECODE.sub(value, text)


def script_file(script_path: str) -> str:
    """The golden file of a job's script, relative to the golden folder."""
    return posixpath.join(SCRIPTS_DIR, posixpath.basename(script_path))


def _strings(value: Any, change: Callable[[str], str]) -> Any:
    """`value` (plain JSON) with `change` applied to every string but dict keys."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [_strings(item, change) for item in value]
    if isinstance(value, dict):
        return {key: _strings(item, change) for key, item in value.items()}
    return value


def _convert(doc: Mapping[str, Any], change: Callable[[str], str]) -> dict[str, Any]:
    return {
        key: value if key in _LITERAL else _strings(value, change) for key, value in doc.items()
    }


def dump(doc: Any) -> str:
    """The canonical JSON text of the plan files: sorted keys, 2-space indent, ASCII."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def golden_texts(doc: Mapping[str, Any]) -> dict[str, str]:
    """Relative path -> text of each file of the golden form of a plan's JSON (`to_json`)."""
    plan_id = str(doc["plan_id"])
    encode = partial(encode_text, plan_id=plan_id)
    texts: dict[str, str] = {}
    jobs = []
    for job in doc["jobs"]:
        relative = script_file(str(job["script_path"]))
        if relative in texts:
            raise ValueError(f"two jobs share the script file {relative!r}")
        texts[relative] = encode(str(job["script"]))
        jobs.append({**job, "script": relative})  # encoded below like every path: no id in it
    texts[PLAN_FILE] = dump(_convert({**doc, "jobs": jobs}, encode))
    return texts


def plan_json_of(texts: Mapping[str, str]) -> dict[str, Any]:
    """The plan's JSON back from its golden files' texts (KeyError: a file is missing)."""
    doc: dict[str, Any] = json.loads(texts[PLAN_FILE])
    decode = partial(decode_text, plan_id=str(doc["plan_id"]))
    plain = _convert(doc, decode)
    for job in plain["jobs"]:
        job["script"] = decode(texts[job["script"]])
    return plain
