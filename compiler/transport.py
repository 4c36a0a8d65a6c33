"""How commands reach the cluster user: the transport of a plan, and its exact command lines.

- local: the runner is the cluster user; commands run as they are.
- sudo:  the runner impersonates the user for sbatch, scancel, cat, ls and mkdir
         only (`sudo --set-home --non-interactive -u USER CMD ...`); squeue runs as the runner.
- ssh:   the system OpenSSH client, one multiplexed connection, the remote command
         one shlex.join'ed string (ssh hands it to the remote shell).
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class TransportKind(StrEnum):
    LOCAL = "local"
    SUDO = "sudo"
    SSH = "ssh"


@dataclass(frozen=True, slots=True, kw_only=True)
class SshTarget:
    host: str
    port: int
    key_path: str
    known_hosts_path: str
    control_path: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Transport:
    """How a plan reaches its cluster user: who, and for ssh, where."""

    kind: TransportKind
    user: str
    ssh: SshTarget | None = None


# The only commands sudo may run as the user (the sudoers rule of the site).
SUDO_COMMANDS = frozenset({"sbatch", "scancel", "cat", "ls", "mkdir"})
SSH_CONTROL_PERSIST_S = 60
SSH_CONNECT_TIMEOUT_S = 20


def ssh_prefix(user: str, ssh: SshTarget) -> tuple[str, ...]:
    return (
        "ssh",
        "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={ssh.known_hosts_path}",
        "-o", "IdentitiesOnly=yes",
        "-o", "ControlMaster=auto",
        "-o", f"ControlPath={ssh.control_path}",
        "-o", f"ControlPersist={SSH_CONTROL_PERSIST_S}",
        "-o", f"ConnectTimeout={SSH_CONNECT_TIMEOUT_S}",
        "-p", str(ssh.port),
        "-i", ssh.key_path,
        f"{user}@{ssh.host}",
    )  # fmt: skip


def control_socket_folder(transport: Transport) -> str | None:
    """The folder of the ssh ControlMaster socket (may start with ~), or None.

    ssh creates the socket but not its folder; the effects layer makes it (0700)
    before the first connection.  None for other transports, or when the folder
    itself holds ssh % tokens that only ssh can expand.
    """
    if transport.ssh is None:
        return None
    folder = posixpath.dirname(transport.ssh.control_path)
    return None if not folder or "%" in folder else folder


def _over_ssh(transport: Transport, argv: Sequence[str]) -> tuple[str, ...]:
    assert transport.ssh is not None
    return (*ssh_prefix(transport.user, transport.ssh), "--", shlex.join(argv))


def as_user(transport: Transport, argv: Sequence[str]) -> tuple[str, ...]:
    """`argv` run as the cluster user."""
    match transport.kind:
        case TransportKind.LOCAL:
            return tuple(argv)
        case TransportKind.SUDO:
            if argv[0] not in SUDO_COMMANDS:
                raise ValueError(f"{argv[0]!r} is not one of the commands sudo may run as the user")
            # --set-home: HOME is the user's even where sudoers keeps the caller's (sbatch
            # exports the environment into the job), as fractal-server runs sudo.
            return ("sudo", "--set-home", "--non-interactive", "-u", transport.user, *argv)
        case TransportKind.SSH:
            return _over_ssh(transport, argv)


def as_runner(transport: Transport, argv: Sequence[str]) -> tuple[str, ...]:
    """`argv` run where Slurm can be queried without the user's identity (squeue)."""
    if transport.kind is TransportKind.SSH:
        return _over_ssh(transport, argv)
    return tuple(argv)
