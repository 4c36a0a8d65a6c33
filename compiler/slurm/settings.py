"""Slurm settings: one layer as an input gives it, and the resources a task resolves to.

A layer (the config's default or GPU settings, a task list's meta, a task's meta)
sets some fields and leaves the rest unset (None).  Layers are laid over each
other in order (compiler/passes/resolve.py); the result, with every required
field set, is a task's Resources.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from slurmplan.compiler.slurm.directives import DIRECTIVES
from slurmplan.compiler.slurm.extra_lines import dedupe
from slurmplan.compiler.slurm.units import TimeLimit

DEFAULT_SHEBANG = "#!/bin/bash"
_T = TypeVar("_T")

# Plain option -> its place in the table: options are kept in script order.
_ORDER = {d.option: i for i, d in enumerate(DIRECTIVES)}

Options = tuple[tuple[str, str], ...]  # (sbatch option, value) of plain fields, in table order


def ordered(options: dict[str, str]) -> Options:
    """Plain options as `Options`: in the directive table's order."""
    return tuple(sorted(options.items(), key=lambda item: _ORDER[item[0]]))


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """One layer of Slurm settings, parsed; None where the layer sets nothing."""

    partition: str | None = None
    cpus_per_task: int | None = None
    mem_mb: int | None = None
    time: TimeLimit | None = None  # from `time` or `time_per_task`
    options: Options = ()  # the plain fields this layer sets (compiler/slurm/directives.py)
    extra_lines: tuple[str, ...] | None = None
    shebang_line: str | None = None
    use_mem_per_cpu: bool | None = None
    # (input field, its value as written) for the values an error may quote: "8G", not
    # its MiB.  Not part of what the layer sets: equal layers are equal without it.
    written: tuple[tuple[str, object], ...] = field(default=(), compare=False)

    def __bool__(self) -> bool:
        return self != _EMPTY

    def over(self, base: Settings, *, append_lines: bool) -> Settings:
        """`base` with every field this layer sets replaced; with `append_lines`,
        this layer's extra lines go after the base's instead of replacing them."""
        lines = self.extra_lines
        if lines is not None and append_lines and base.extra_lines is not None:
            lines = base.extra_lines + lines
        return Settings(
            partition=_first(self.partition, base.partition),
            cpus_per_task=_first(self.cpus_per_task, base.cpus_per_task),
            mem_mb=_first(self.mem_mb, base.mem_mb),
            time=_first(self.time, base.time),
            options=_merged(base.options, self.options),
            extra_lines=_first(lines, base.extra_lines),
            shebang_line=_first(self.shebang_line, base.shebang_line),
            use_mem_per_cpu=_first(self.use_mem_per_cpu, base.use_mem_per_cpu),
        )


_EMPTY = Settings()


def _merged(base: Options, layer: Options) -> Options:
    if not (base and layer):
        return layer or base
    return ordered({**dict(base), **dict(layer)})


def _first(value: _T | None, otherwise: _T | None) -> _T | None:
    return otherwise if value is None else value


@dataclass(frozen=True, slots=True, kw_only=True)
class Resources:
    """What one task needs; tasks with equal Resources are batched together."""

    partition: str
    cpus_per_task: int
    mem_mb: int
    time: TimeLimit | None = None  # None: no --time line
    options: Options = ()
    extra_lines: tuple[str, ...] = ()
    shebang_line: str = DEFAULT_SHEBANG
    use_mem_per_cpu: bool = False


def resources(settings: Settings) -> Resources:
    """The resources of fully merged settings (partition, cpus_per_task and mem set)."""
    if settings.partition is None or settings.cpus_per_task is None or settings.mem_mb is None:
        raise ValueError(f"settings without partition, cpus_per_task or mem: {settings!r}")
    return Resources(
        partition=settings.partition,
        cpus_per_task=settings.cpus_per_task,
        mem_mb=settings.mem_mb,
        time=settings.time,
        options=settings.options,
        extra_lines=dedupe(settings.extra_lines or ()),
        shebang_line=settings.shebang_line or DEFAULT_SHEBANG,
        use_mem_per_cpu=bool(settings.use_mem_per_cpu),
    )
