"""Shared hypothesis strategies: valid inputs, shell-hostile text, JSON garbage, mutations.

The valid-input strategies are written by hand from docs/architecture.md §2 (not from the
compiler), so a plan the compiler rejects for them is a finding, not noise.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable
from functools import cache
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

Json = Any  # a JSON value: None, bool, int, float, str, list, dict[str, ...]

# The "dev" profile multiplies every test's examples; "ci" keeps them as written.
_SCALE = 10 if os.environ.get("HYPOTHESIS_PROFILE") == "dev" else 1


def examples(n: int) -> settings:
    """`@examples(n)`: this test's budget, on top of the loaded profile."""
    return settings(max_examples=n * _SCALE)


# --- text -------------------------------------------------------------------------

# Fragments a shell gives meaning to, so that hypothesis meets them often.
SHELL_FRAGMENTS = (
    "", " ", "\t", "\n", "\r", "'", '"', "\\", "$", "`", "$HOME", "${x}", "$(id)", "`id`",
    "$'\\n'", "*", "?", "[a]", "~", "!", "#", ";", "&", "&&", "|", ">", "<", "(", ")", "{", "}",
    "-", "--", "-n", "-e", "--help", "%s", "%%", "=", "a b", "'\"'", "\\'", "\u00e9", "\u2603",
    "\U0001f600", "\x01", "\x7f", "\x1b[0m",
)  # fmt: skip
_NO_NUL_OR_SURROGATE = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
# Lone low surrogates \udc80-\udcff stand for raw bytes 0x80-0xff (surrogateescape).
RAW_BYTE = st.integers(0x80, 0xFF).map(lambda b: chr(0xDC00 + b))


@cache  # a strategy built once: building one per draw costs its validation
def shell_text(*, raw_bytes: bool = False) -> st.SearchStrategy[str]:
    """Any text without NUL, biased towards shell metacharacters."""
    pieces: list[st.SearchStrategy[str]] = [
        st.sampled_from(SHELL_FRAGMENTS),
        st.text(_NO_NUL_OR_SURROGATE, max_size=8),
    ]
    if raw_bytes:
        pieces.append(st.lists(RAW_BYTE, min_size=1, max_size=4).map("".join))
    return st.lists(st.one_of(pieces), max_size=6).map("".join)


@cache
def argv(*, raw_bytes: bool = False) -> st.SearchStrategy[list[str]]:
    """A task's command: a non-empty program name, then any arguments."""
    return st.builds(
        lambda head, rest: [head, *rest],
        st.builds(
            str.__add__,
            st.one_of(
                st.sampled_from(SHELL_FRAGMENTS[1:]), st.text(_NO_NUL_OR_SURROGATE, min_size=1)
            ),
            shell_text(raw_bytes=raw_bytes),
        ),
        st.lists(shell_text(raw_bytes=raw_bytes), max_size=5),
    )


# Shell variables with a meaning of their own (readonly, special or used by the
# script itself): a task's env may not reach the task unchanged under these
# names (test_quoting_props.test_env_names_the_shell_uses_reach_the_task), so
# values are tested under ordinary names.
SPECIAL_NAMES = frozenset(
    {
        "PATH", "IFS", "HOME", "PWD", "OLDPWD", "SHLVL", "ENV", "BASH_ENV", "CDPATH",
        "SHELLOPTS", "BASHOPTS", "UID", "EUID", "PPID", "GROUPS", "RANDOM", "SRANDOM",
        "SECONDS", "LINENO", "HISTCMD", "OPTIND", "OPTARG", "PS1", "PS2", "PS4", "FUNCNAME",
        "HOSTNAME", "HOSTTYPE", "MACHTYPE", "OSTYPE", "EPOCHSECONDS", "EPOCHREALTIME",
        "COLUMNS", "LINES", "MAIL", "MAILPATH", "POSIXLY_CORRECT", "TMOUT", "CAPTURE",
        "BASHPID", "DIRSTACK", "PIPESTATUS", "COMP_WORDBREAKS", "HISTFILE", "HISTSIZE",
        "LANG", "LANGUAGE", "TERM", "SHELL", "FIGNORE", "GLOBIGNORE", "INPUTRC", "MAILCHECK",
    }
)  # fmt: skip
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"


def _word(first: str, rest: str, max_size: int) -> st.SearchStrategy[str]:
    """One character of `first`, then up to `max_size - 1` of `rest` (from_regex is slow)."""
    return st.builds(
        str.__add__, st.sampled_from(first), st.text(st.sampled_from(rest), max_size=max_size - 1)
    )


ENV_NAME = _word(_LETTERS, _LETTERS + _DIGITS + "_", 9).filter(
    lambda name: (
        name not in SPECIAL_NAMES
        and not name.startswith(("BASH", "LC_", "COMP", "HIST", "READLINE"))
    )
)


@cache
def env(*, raw_bytes: bool = False) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(ENV_NAME, shell_text(raw_bytes=raw_bytes), max_size=3)


# --- valid inputs (docs/architecture.md §2) -------------------------------------------------------

_NAME_CHARS = _LETTERS + _DIGITS + "._-"
TASK_ID = _word(_NAME_CHARS, _NAME_CHARS, 12)
LIST_NAME = _word(_NAME_CHARS, _NAME_CHARS, 16)
_USER_FIRST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_."
USERNAME = _word(_USER_FIRST, _USER_FIRST + "-", 9)  # as useradd and LDAP take them
DIRECTIVE_PATH = st.lists(
    _word(_NAME_CHARS + ",+@:=", _NAME_CHARS + ",+@:=", 8), min_size=1, max_size=3
).map(lambda parts: "/" + "/".join(parts))
WORD = _word(_NAME_CHARS + "+", _NAME_CHARS + "+", 8)
TIME = st.sampled_from(
    ["10", "90", "10:30", "1:00:00", "100:00:00", "2-0", "1-12:30", "0-1:2:3", "0", "UNLIMITED",
     "infinite"]
)  # fmt: skip
# Extra lines the compiler must take: shell lines, and #SBATCH lines that set none of
# the options slurmplan writes itself (-J/--job-name, --time, --mem, ...), none that
# have a field of their own (--account, --qos, --constraint, --gres, --gpus,
# --exclude, --nodelist, --nodes) and none that belong on sbatch's command line
# (--wait, --wrap, ...): compiler/slurm/extra_lines.py.  Each sbatch form appears once: a
# long option with an attached value, a short one with a separate value, a quoted
# value, a flag and an optional value attached.
VALID_EXTRA_LINES = (
    "export A=1", "module load x", "", "# a comment", "#SBATCH --licenses=x",
    "#SBATCH --mail-type=END", "#SBATCH -L x", '#SBATCH --comment="a b"',
    "#SBATCH --requeue", "#SBATCH --nice=5",
)  # fmt: skip
EXTRA_LINE = st.sampled_from(VALID_EXTRA_LINES)


@st.composite
def mem_spec(draw: st.DrawFn, max_mib: int = 8192) -> tuple[int | str, int]:
    """(a memory value as a user writes it, its MiB under Slurm's 1024-based rules)."""
    mib = draw(st.integers(1, max_mib))
    form = draw(st.sampled_from(["int", "M", "mb", "G", "K"]))
    if form == "int":
        return mib, mib
    if form == "M":
        return f"{mib}M", mib
    if form == "mb":
        return f"{mib}mb", mib
    if form == "G":
        gib = max(1, mib // 1024)
        return f"{gib}G", gib * 1024
    kib = draw(st.integers(1, max_mib * 1024))
    return f"{kib}K", math.ceil(kib / 1024)


@cache
def _layer(*, required: bool) -> st.SearchStrategy[dict[str, Any]]:
    optional = {
        "time": TIME,
        "gres": st.sampled_from(["gpu:1", "gpu:a100:2"]),
        "constraint": st.sampled_from(["c1", "a&b", "[x|y]"]),
        "nodelist": st.sampled_from(["n1", "n[1-4],n7"]),
        "nodes": st.one_of(st.integers(1, 4), st.sampled_from(["1", "1-2"])),
        "extra_lines": st.lists(EXTRA_LINE, max_size=3),
    }
    if required:
        optional |= {
            "account": WORD,
            "qos": WORD,
            "shebang_line": st.sampled_from(["#!/bin/bash", "#!/bin/sh"]),
            "use_mem_per_cpu": st.just(False),
        }
        base = {
            "partition": st.sampled_from(["main", "gpu", "a,b"]),
            "cpus_per_task": st.integers(1, 4),
            "mem": mem_spec(2048).map(lambda pair: pair[0]),
        }
        return st.fixed_dictionaries(base, optional=optional)
    optional |= {
        "cpus_per_task": st.integers(1, 4),
        "mem": mem_spec(2048).map(lambda pair: pair[0]),
    }
    return st.fixed_dictionaries({}, optional=optional)


GENEROUS_LIMITS = {
    "target_cpus_per_job": 8, "max_cpus_per_job": 16,
    "target_mem_per_job": "16G", "max_mem_per_job": "32G",
    "target_num_jobs": 3, "max_num_jobs": 100,
}  # fmt: skip


@st.composite
def runner_config(draw: st.DrawFn) -> dict[str, Any]:
    config: dict[str, Any] = {
        "default_slurm_config": draw(_layer(required=True)),
        "batching_config": dict(GENEROUS_LIMITS),
        "scripts_dir": draw(DIRECTIVE_PATH),
    }
    if draw(st.booleans()):
        config["gpu_slurm_config"] = draw(_layer(required=False))
    if draw(st.booleans()):
        relative = st.lists(_word(_LETTERS + " $'_-", _NAME_CHARS + " $'", 8), min_size=1,
                            max_size=2).map("/".join)  # fmt: skip
        config["user_local_exports"] = draw(st.dictionaries(ENV_NAME, relative, max_size=2))
    if draw(st.booleans()):
        config["submission"] = {"max_jobs_in_queue": draw(st.integers(1, 10))}
    return config


@st.composite
def user_profile(draw: st.DrawFn) -> dict[str, Any]:
    transport = draw(st.sampled_from(["local", "sudo", "ssh"]))
    profile: dict[str, Any] = {
        "username": draw(USERNAME),
        "transport": transport,
        "project_dir": draw(DIRECTIVE_PATH),
    }
    if draw(st.booleans()):
        profile["cache_dir"] = "/" + draw(
            shell_text().filter(lambda t: "\n" not in t and "\r" not in t)
        )
    if draw(st.booleans()):
        profile["jobs_dir"] = draw(DIRECTIVE_PATH)
    if transport == "ssh":
        profile["ssh"] = draw(
            st.fixed_dictionaries(
                {"host": st.sampled_from(["login", "127.0.0.1", "h.example.org"]),
                 "key_path": DIRECTIVE_PATH, "known_hosts_path": DIRECTIVE_PATH},
                optional={"port": st.integers(1, 65535),
                          "control_path": st.sampled_from(["~/.ssh/cm-%C", "/tmp/cm-%r@%h"])},
            )
        )  # fmt: skip
    return profile


@st.composite
def task_list(draw: st.DrawFn, *, max_tasks: int = 6, raw_bytes: bool = False) -> dict[str, Any]:
    ids = draw(st.lists(TASK_ID, min_size=1, max_size=max_tasks, unique=True))
    metas = draw(st.lists(_layer(required=False), min_size=1, max_size=3))
    tasks: list[dict[str, Any]] = []
    for task_id in ids:
        task: dict[str, Any] = {"id": task_id, "command": draw(argv(raw_bytes=raw_bytes))}
        if draw(st.booleans()):
            task["env"] = draw(env(raw_bytes=raw_bytes))
        if draw(st.booleans()):
            task["meta"] = draw(st.sampled_from(metas))
        tasks.append(task)
    doc: dict[str, Any] = {"name": draw(LIST_NAME), "tasks": tasks}
    if draw(st.booleans()):
        doc["needs_gpu"] = draw(st.booleans())
    if draw(st.booleans()):
        per_job = draw(st.integers(1, 4))
        doc["tasks_per_job"] = per_job
        doc["parallel_tasks_per_job"] = draw(st.integers(1, per_job + 1))
    elif draw(st.booleans()):
        doc["tasks_per_job"] = doc["parallel_tasks_per_job"] = None
    if draw(st.booleans()):
        doc["meta"] = draw(_layer(required=False))
    return doc


Inputs = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]


def valid_inputs(*, raw_bytes: bool = False) -> st.SearchStrategy[Inputs]:
    return st.tuples(runner_config(), user_profile(), task_list(raw_bytes=raw_bytes))


# --- garbage and mutations --------------------------------------------------------

JSON_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.sampled_from(["", "\x00", "1G", "01:00:00", "-1", "/abs", "../up", "#SBATCH --mem=1"]),
)
JSON_VALUE: st.SearchStrategy[Json] = st.recursive(
    JSON_SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def deeply_nested(depth: int, leaf: Json = 0) -> Json:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def _paths(doc: Json, here: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    out = [here]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out.extend(_paths(value, (*here, key)))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            out.extend(_paths(value, (*here, index)))
    return out


def _get(doc: Json, path: tuple[str | int, ...]) -> Json:
    for part in path:
        doc = doc[part]
    return doc


def _wrong_type(value: Json) -> st.SearchStrategy[Json]:
    if isinstance(value, bool):
        return st.sampled_from([0, 1, "true", None])
    if isinstance(value, int):
        return st.sampled_from([float(value), str(value), True, -value, 0, None, [value]])
    if isinstance(value, str):
        return st.sampled_from([1, None, [value], {value: value}, value + "\n", value + "\x00"])
    if isinstance(value, list):
        return st.sampled_from([{}, "x", 0, None, [], [None]])
    if isinstance(value, dict):
        return st.sampled_from([[], "x", 0, None, [value]])
    return JSON_SCALAR


@st.composite
def mutated(draw: st.DrawFn, doc: Json) -> Json:
    """`doc` with one thing broken: a key dropped or added, a value retyped or replaced."""
    doc = copy.deepcopy(doc)
    path = draw(st.sampled_from(_paths(doc)))
    node = _get(doc, path)
    how = draw(st.sampled_from(["drop", "add", "retype", "replace", "nest"]))
    new: Json
    if how == "drop" and isinstance(node, dict) and node:
        del node[draw(st.sampled_from(sorted(node)))]
        return doc
    if how == "add" and isinstance(node, dict):
        node[draw(st.sampled_from(["unknown", "extra_key", "", "Partition"]))] = draw(JSON_VALUE)
        return doc
    if how == "nest":
        new = deeply_nested(draw(st.integers(20, 200)))
    elif how == "retype":
        new = draw(_wrong_type(node))
    else:
        new = draw(JSON_VALUE)
    if not path:
        return new
    _get(doc, path[:-1])[path[-1]] = new
    return doc


@st.composite
def shuffled(draw: st.DrawFn, doc: Json, keep: frozenset[str] = frozenset()) -> Json:
    """`doc` with the keys of every object in another order (same content).

    The objects under a key in `keep` keep their own key order.
    """
    if isinstance(doc, dict):
        keys = draw(st.permutations(list(doc)))
        return {key: doc[key] if key in keep else draw(shuffled(doc[key], keep)) for key in keys}
    if isinstance(doc, list):
        return [draw(shuffled(item, keep)) for item in doc]
    return doc


def one_of_three(
    inputs: Inputs, change: Callable[[Json], st.SearchStrategy[Json]]
) -> st.SearchStrategy[tuple[Json, Json, Json]]:
    """The inputs with `change` applied to one, two or all three of them."""
    config, profile, tasks = inputs
    return st.tuples(
        st.one_of(st.just(config), change(config)),
        st.one_of(st.just(profile), change(profile)),
        st.one_of(st.just(tasks), change(tasks)),
    )
