"""compiler.runtime.tar_reader against the standard library's tarfile: the same regular
files, names and bytes, in every format `tar -c` may write (GNU long names, pax, ustar
prefixes), among links and folders, whether the stream comes whole or in pieces cut
anywhere; a cut or corrupted stream is refused with ValueError, never read past and
never another exception."""

from __future__ import annotations

import io
import tarfile
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slurmplan.compiler.runtime.tar_reader import TarReader

FORMATS = {"gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT, "ustar": tarfile.USTAR_FORMAT}
NAME_PART = st.text(
    alphabet=st.characters(
        min_codepoint=33, max_codepoint=0x2FF, blacklist_characters="/", categories=["L", "N"]
    ),
    min_size=1,
    max_size=60,
)
MEMBER = st.tuples(
    st.lists(NAME_PART, min_size=1, max_size=6).map("/".join),
    st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE]),
    st.binary(max_size=1500),
)


def _archive(members: list[tuple[str, bytes, bytes]], fmt: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.REGTYPE:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:  # a long target needs a record of its own (GNU 'K', a pax linkpath)
                info.linkname = "" if kind == tarfile.DIRTYPE else "elsewhere/" + "t" * len(data)
                tar.addfile(info)
    return buffer.getvalue()


def _by_tarfile(data: bytes) -> list[tuple[bytes, bytes]]:
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
        for member in tar:
            if member.isreg():
                extracted = tar.extractfile(member)
                assert extracted is not None
                out.append((member.name.encode("utf-8", "surrogateescape"), extracted.read()))
    return out


@settings(max_examples=300, deadline=None)
@given(members=st.lists(MEMBER, max_size=12), fmt=st.sampled_from(sorted(FORMATS)))
def test_the_same_regular_files_as_tarfile(members: list[Any], fmt: str) -> None:
    if fmt == "ustar":  # ustar holds names of up to 100 bytes, or 155 + 100 split at a '/'
        members = [m for m in members if len(m[0].encode()) <= 100]
    data = _archive(members, FORMATS[fmt])
    got = _files(data)
    assert got == _by_tarfile(data)
    regular = [(n.encode(), d) for n, k, d in members if k == tarfile.REGTYPE]
    assert got == regular


def read_all(data: bytes) -> list[tuple[bytes, memoryview]]:
    """The regular files of a whole stream, fed at once; ValueError for one not well formed."""
    reader = TarReader()
    files = reader.feed(data)
    reader.close()
    return files


def _files(data: bytes) -> list[tuple[bytes, bytes]]:
    return [(name, bytes(view)) for name, view in read_all(data)]


def _fed(data: bytes, cuts: list[int]) -> list[tuple[bytes, bytes]]:
    """The files TarReader hands out when `data` arrives cut at `cuts`."""
    reader, files, at = TarReader(), [], 0
    for cut in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:
        files += [(name, bytes(view)) for name, view in reader.feed(data[at:cut])]
        at = max(at, cut)
    reader.close()
    return files


@settings(max_examples=300, deadline=None)
@given(
    members=st.lists(MEMBER, max_size=12),
    fmt=st.sampled_from(["gnu", "pax"]),
    cuts=st.lists(st.integers(min_value=0), max_size=30),
    small=st.integers(1, 700),
)
def test_a_stream_fed_in_pieces_gives_the_same_files_as_whole(
    members: list[Any], fmt: str, cuts: list[int], small: int
) -> None:
    data = _archive(members, FORMATS[fmt])
    whole = _files(data)
    assert _fed(data, cuts) == whole
    assert _fed(data, list(range(0, len(data), small))) == whole  # pieces smaller than a block


def test_a_member_is_handed_out_only_once_all_its_bytes_are_here() -> None:
    data = _archive([("a", tarfile.REGTYPE, b"x" * 2000), ("b", tarfile.REGTYPE, b"y")],
                    tarfile.GNU_FORMAT)  # fmt: skip
    reader = TarReader()
    assert reader.feed(data[:2000]) == []  # a's header and most of its data
    assert [(n, bytes(v)) for n, v in reader.feed(data[2000:3072])] == [(b"a", b"x" * 2000)]
    assert [(n, bytes(v)) for n, v in reader.feed(data[3072:])] == [(b"b", b"y")]
    reader.close()


def test_a_ustar_name_split_into_prefix_and_name() -> None:
    name = "a" * 120 + "/result.json"  # over 100 bytes: ustar keeps the folder in its prefix
    data = _archive([(name, tarfile.REGTYPE, b"{}")], tarfile.USTAR_FORMAT)
    assert _files(data) == [(name.encode(), b"{}")]


def test_a_huge_size_in_base_256_is_read_and_refused_as_running_past_the_end() -> None:
    data = bytearray(_archive([("big", tarfile.REGTYPE, b"x")], tarfile.GNU_FORMAT))
    data[124:136] = b"\x80" + (9 << 30).to_bytes(11, "big")  # 9 GiB: GNU's base-256 form
    with pytest.raises(ValueError, match="runs past the end"):
        read_all(bytes(data))


@settings(max_examples=300, deadline=None)
@given(
    members=st.lists(MEMBER, min_size=1, max_size=5),
    fmt=st.sampled_from(["gnu", "pax"]),
    cut=st.integers(min_value=1),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=4),
)
def test_a_cut_or_corrupted_stream_is_refused_with_value_error_or_read_within_it(
    members: list[Any], fmt: str, cut: int, flips: list[tuple[int, int]]
) -> None:
    data = bytearray(_archive(members, FORMATS[fmt]))
    for at, value in flips:
        data[at % len(data)] = value
    data = data[: len(data) - cut % len(data)]
    try:
        found = _files(bytes(data))
    except ValueError:
        return
    for _, content in found:
        assert content in data  # every byte handed out is one of the stream's


def test_a_stream_cut_inside_a_members_last_block_says_so() -> None:
    data = _archive([("a", tarfile.REGTYPE, b"x" * 10)], tarfile.GNU_FORMAT)[:700]
    with pytest.raises(ValueError, match="cut short at byte 700, inside a member"):
        read_all(data)


def test_a_long_link_target_between_a_long_name_and_its_file_keeps_the_name() -> None:
    """GNU's 'K' record (a link's long target) names no member: a long name ('L') read
    before it still belongs to the member that follows."""
    name = "r" * 150
    file_part = _archive([(name, tarfile.REGTYPE, b"data")], tarfile.GNU_FORMAT)
    link_part = _archive([("l", tarfile.SYMTYPE, b"x" * 200)], tarfile.GNU_FORMAT)
    long_name, member = file_part[:1024], file_part[1024:2048]  # 'L' + its name; the file
    long_link = link_part[:1024]  # 'K' + its target
    assert (long_name[156], long_link[156]) == (ord("L"), ord("K"))
    data = long_name + long_link + member + bytes(1024)
    assert _files(data) == [(name.encode(), b"data")]
