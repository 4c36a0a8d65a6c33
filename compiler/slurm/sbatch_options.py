"""Every option of sbatch from Slurm 22.05.8 (Debian 12 package slurm-client 22.05.8-4+deb12u3).

Pure data; no I/O.  How the table was made (on the project's testbed,
``bash scripts/testbed.sh up``):

* ``sbatch --help`` (91 long options, 34 short letters), ``sbatch --usage`` (adds
  ``mem-bind`` and ``network``) and ``zcat /usr/share/man/man1/sbatch.1.gz`` (the manpage
  is shipped by slurm-client; it adds nine more: ``acctg-freq``, ``batch``, ``hint``,
  ``kill-on-invalid-dep``, ``ntasks-per-gpu``, ``open-mode``, ``prefer``, ``test-only``,
  ``wait-all-nodes``);
* the option table sbatch's getopt is built from (``common_options[]`` in
  ``src/common/slurm_opt.c`` of the Debian source ``slurm-wlm 22.05.8``: entries with a
  ``set_func`` or ``set_func_sbatch``), which adds four undocumented but accepted names:
  ``cluster``, ``context``, ``ntasks-per-tres``, ``tasks-per-node``;
* every row was then checked against the installed binary: ``sbatch --NAME`` (stdin
  /dev/null) says "requires an argument" exactly for the ``required`` rows, and
  ``sbatch --NAME=x --version`` says "doesn't allow an argument" exactly for the ``none``
  rows; every letter a-z, A-Z, 0-9 was tried as ``-L``: exactly the 34 letters below exist.
  ``tests/test_sbatch_options.py`` repeats these checks when ``sbatch`` is installed.

Parser facts that matter to anyone checking ``#SBATCH`` lines (verified on 22.05.8; they
hold in ``#SBATCH`` lines too, which sbatch parses with the same ``getopt_long``):

* a long option may be abbreviated to any unambiguous prefix: ``#SBATCH --part=debug``
  sets the partition and ``--lic=x`` means ``--licenses=x``; an ambiguous prefix
  (``--ti=5``: ``--time``/``--time-min``) is an error.  ``resolve_long_option`` applies the
  same rule to this table;
* a value may follow as ``--name=value`` or as the next word (``--partition debug``);
* ``--wrap`` and ``--export`` require a value although ``--help`` shows ``[=...]``;
  ``exclusive``, ``get-user-env``, ``nice``, ``no-kill`` and ``propagate`` take an optional
  value, which must then be attached (``--nice=5``; for ``-k`` only ``-kVALUE``);
* aliases: ``tasks-per-node`` = ``ntasks-per-node``; ``cluster`` is a separate option from
  ``clusters`` (``-M``).

SPANK plugins can add options at run time; none are installed on the testbed.
"""

from typing import Literal

ArgKind = Literal["required", "optional", "none"]
"""Whether the option takes a value: always, only when attached with ``=``, or never."""

DocSource = Literal["help", "usage", "man", "hidden"]
"""Where the option is first documented: ``--help``, else ``--usage``, else the
manpage; ``hidden``: accepted by the parser but documented nowhere."""

SLURM_VERSION: str = "22.05.8"

# (long name, short letter or None, argument kind, documented in)
OPTION_TABLE: tuple[tuple[str, str | None, ArgKind, DocSource], ...] = (
    ("account", "A", "required", "help"),
    ("acctg-freq", None, "required", "man"),
    ("array", "a", "required", "help"),
    ("batch", None, "required", "man"),
    ("bb", None, "required", "help"),
    ("bbf", None, "required", "help"),
    ("begin", "b", "required", "help"),
    ("chdir", "D", "required", "help"),
    ("cluster", None, "required", "hidden"),
    ("cluster-constraint", None, "required", "help"),
    ("clusters", "M", "required", "help"),
    ("comment", None, "required", "help"),
    ("constraint", "C", "required", "help"),
    ("container", None, "required", "help"),
    ("context", None, "required", "hidden"),
    ("contiguous", None, "none", "help"),
    ("core-spec", "S", "required", "help"),
    ("cores-per-socket", None, "required", "help"),
    ("cpu-freq", None, "required", "help"),
    ("cpus-per-gpu", None, "required", "help"),
    ("cpus-per-task", "c", "required", "help"),
    ("deadline", None, "required", "help"),
    ("delay-boot", None, "required", "help"),
    ("dependency", "d", "required", "help"),
    ("distribution", "m", "required", "help"),
    ("error", "e", "required", "help"),
    ("exclude", "x", "required", "help"),
    ("exclusive", None, "optional", "help"),
    ("export", None, "required", "help"),
    ("export-file", None, "required", "help"),
    ("extra-node-info", "B", "required", "help"),
    ("get-user-env", None, "optional", "help"),
    ("gid", None, "required", "help"),
    ("gpu-bind", None, "required", "help"),
    ("gpu-freq", None, "required", "help"),
    ("gpus", "G", "required", "help"),
    ("gpus-per-node", None, "required", "help"),
    ("gpus-per-socket", None, "required", "help"),
    ("gpus-per-task", None, "required", "help"),
    ("gres", None, "required", "help"),
    ("gres-flags", None, "required", "help"),
    ("help", "h", "none", "help"),
    ("hint", None, "required", "man"),
    ("hold", "H", "none", "help"),
    ("ignore-pbs", None, "none", "help"),
    ("input", "i", "required", "help"),
    ("job-name", "J", "required", "help"),
    ("kill-on-invalid-dep", None, "required", "man"),
    ("licenses", "L", "required", "help"),
    ("mail-type", None, "required", "help"),
    ("mail-user", None, "required", "help"),
    ("mcs-label", None, "required", "help"),
    ("mem", None, "required", "help"),
    ("mem-bind", None, "required", "usage"),
    ("mem-per-cpu", None, "required", "help"),
    ("mem-per-gpu", None, "required", "help"),
    ("mincpus", None, "required", "help"),
    ("network", None, "required", "usage"),
    ("nice", None, "optional", "help"),
    ("no-kill", "k", "optional", "help"),
    ("no-requeue", None, "none", "help"),
    ("nodefile", "F", "required", "help"),
    ("nodelist", "w", "required", "help"),
    ("nodes", "N", "required", "help"),
    ("ntasks", "n", "required", "help"),
    ("ntasks-per-core", None, "required", "help"),
    ("ntasks-per-gpu", None, "required", "man"),
    ("ntasks-per-node", None, "required", "help"),
    ("ntasks-per-socket", None, "required", "help"),
    ("ntasks-per-tres", None, "required", "hidden"),
    ("open-mode", None, "required", "man"),
    ("output", "o", "required", "help"),
    ("overcommit", "O", "none", "help"),
    ("oversubscribe", "s", "none", "help"),
    ("parsable", None, "none", "help"),
    ("partition", "p", "required", "help"),
    ("power", None, "required", "help"),
    ("prefer", None, "required", "man"),
    ("priority", None, "required", "help"),
    ("profile", None, "required", "help"),
    ("propagate", None, "optional", "help"),
    ("qos", "q", "required", "help"),
    ("quiet", "Q", "none", "help"),
    ("reboot", None, "none", "help"),
    ("requeue", None, "none", "help"),
    ("reservation", None, "required", "help"),
    ("signal", None, "required", "help"),
    ("sockets-per-node", None, "required", "help"),
    ("spread-job", None, "none", "help"),
    ("switches", None, "required", "help"),
    ("tasks-per-node", None, "required", "hidden"),
    ("test-only", None, "none", "man"),
    ("thread-spec", None, "required", "help"),
    ("threads-per-core", None, "required", "help"),
    ("time", "t", "required", "help"),
    ("time-min", None, "required", "help"),
    ("tmp", None, "required", "help"),
    ("uid", None, "required", "help"),
    ("usage", None, "none", "help"),
    ("use-min-nodes", None, "none", "help"),
    ("verbose", "v", "none", "help"),
    ("version", "V", "none", "help"),
    ("wait", "W", "none", "help"),
    ("wait-all-nodes", None, "required", "man"),
    ("wckey", None, "required", "help"),
    ("wrap", None, "required", "help"),
)

LONG_OPTIONS: frozenset[str] = frozenset(name for name, _, _, _ in OPTION_TABLE)
"""Long option names without leading dashes, e.g. ``"licenses"``, ``"mem-per-cpu"``."""

SHORT_OPTIONS: dict[str, str] = {
    short: name for name, short, _, _ in OPTION_TABLE if short is not None
}
"""Short letter -> long name, e.g. ``"L" -> "licenses"``, ``"n" -> "ntasks"``."""

OPTIONS_TAKING_VALUE: frozenset[str] = frozenset(
    name for name, _, arg, _ in OPTION_TABLE if arg == "required"
)
"""Long names that require an argument (``--name=value`` or ``--name value``)."""

OPTIONS_OPTIONAL_VALUE: frozenset[str] = frozenset(
    name for name, _, arg, _ in OPTION_TABLE if arg == "optional"
)
"""Long names whose argument is optional and, when given, must be attached with ``=``."""

UNDOCUMENTED_OPTIONS: frozenset[str] = frozenset(
    name for name, _, _, doc in OPTION_TABLE if doc == "hidden"
)
"""Accepted by sbatch 22.05.8 but in none of ``--help``, ``--usage``, ``man sbatch``."""


def resolve_long_option(written: str) -> tuple[str, ...]:
    """The options ``--<written>`` can mean, by sbatch's ``getopt_long`` rule.

    ``written`` is the name as written, without dashes and without ``=value``.  An exact
    name wins; otherwise every option it is a prefix of.  One result: that option.  None:
    "unrecognized option".  Several: "ambiguous" (sbatch refuses it).
    """
    if written in LONG_OPTIONS:
        return (written,)
    if not written:
        return ()
    return tuple(sorted(name for name in LONG_OPTIONS if name.startswith(written)))
