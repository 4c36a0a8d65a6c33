"""effects.atomic: a file is replaced in one step, or left as it was, never half-written."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from slurmplan.effects.atomic import atomic_file, write_atomic


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    ("mode", "umask", "got"),
    [(0o644, 0o022, 0o644), (0o644, 0o077, 0o600), (0o600, 0o022, 0o600), (0o644, 0, 0o644)],
)
def test_write_atomic_writes_the_bytes_with_the_mode_less_the_umask(
    tmp_path: Path, mode: int, umask: int, got: int
) -> None:
    # Plans and scripts may hold secrets: private under umask 077 (issue 9), never wider.
    target = tmp_path / "f"
    old_umask = os.umask(umask)
    try:
        write_atomic(str(target), b"\x00data\xff\n", mode)
    finally:
        os.umask(old_umask)
    assert target.read_bytes() == b"\x00data\xff\n"
    assert stat.S_IMODE(target.stat().st_mode) == got
    assert _names(tmp_path) == ["f"]


def test_write_atomic_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old content, longer than the new one\n")
    write_atomic(str(target), b"new\n")
    assert target.read_bytes() == b"new\n"
    assert _names(tmp_path) == ["f"]


def test_atomic_file_in_pieces(tmp_path: Path) -> None:
    target = tmp_path / "f"
    with atomic_file(str(target), 0o640) as out:
        for piece in (b"a", b"bc", b"", b"d" * 100_000):
            out.write(piece)
        assert not target.exists()  # nothing there until the block ends
    assert target.read_bytes() == b"abc" + b"d" * 100_000
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert _names(tmp_path) == ["f"]


@pytest.mark.parametrize("old", [None, b"old content\n"])
def test_a_failure_in_the_block_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, old: bytes | None
) -> None:
    target = tmp_path / "f"
    if old is not None:
        target.write_bytes(old)
    temporaries: list[str] = []
    with pytest.raises(RuntimeError, match="half-way"), atomic_file(str(target)) as out:
        out.write(b"x" * 100_000)  # beyond the buffer: partly on disk already
        out.flush()
        temporaries = [n for n in _names(tmp_path) if n != "f"]
        raise RuntimeError("half-way")
    assert len(temporaries) == 1
    assert temporaries[0].startswith(".slurmplan-")
    if old is None:
        assert not target.exists()
    else:
        assert target.read_bytes() == old
    assert _names(tmp_path) == ([] if old is None else ["f"])


def test_a_folder_that_does_not_exist_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(str(tmp_path / "no" / "f"), b"x")
    assert _names(tmp_path) == []


@pytest.mark.parametrize("durable", [True, False])
def test_durable_fsyncs_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durable: bool
) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append("fsync")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        calls.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_atomic(str(tmp_path / "f"), b"x", durable=durable)
    assert calls == (["fsync", "replace"] if durable else ["replace"])


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _null_device(path: Path) -> Path:
    if os.geteuid() != 0:
        pytest.skip("mknod needs root")
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # our own /dev/null: /dev is not ours
    return path


def _link_to_fifo(path: Path) -> Path:
    path.symlink_to(_fifo(path.parent / "fifo"))
    return path


@pytest.mark.parametrize(
    ("make", "kind"),
    [(_fifo, "a FIFO (named pipe)"), (_null_device, "a character device"),
     (_link_to_fifo, "a FIFO (named pipe)")],
    ids=["fifo", "device", "link-to-fifo"],
)  # fmt: skip
def test_what_is_not_a_regular_file_is_never_replaced(
    tmp_path: Path, make: Callable[[Path], Path], kind: str
) -> None:
    # `compile -o /dev/null` as root renamed a file over the device node.
    target = make(tmp_path / "target")
    before = os.lstat(target)
    names = _names(tmp_path)
    with pytest.raises(OSError, match=f"is {re.escape(kind)}, not a regular file") as caught:
        write_atomic(str(target), b"plan\n")
    assert caught.value.filename == str(target)
    after = os.lstat(target)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    assert _names(tmp_path) == names  # no temporary left


def test_a_link_to_a_regular_file_is_replaced_by_the_file_as_before(tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(b"old\n")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    write_atomic(str(tmp_path / "link"), b"new\n")
    assert (tmp_path / "link").read_bytes() == b"new\n"
    assert not (tmp_path / "link").is_symlink() and (tmp_path / "real").read_bytes() == b"old\n"
