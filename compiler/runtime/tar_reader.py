"""The regular files in a tar stream, read straight from its bytes (Run.fetch over ssh).

`tarfile` builds a TarInfo per member and checks and decodes every header field; for the
200,000 small logs of a 100,000-task fetch that is most of the time fetch takes.  This
reads only what fetch needs: each member's name (ustar prefix, GNU long names and pax
`path` records included), its type and where its data lies.  Nothing is extracted here:
the caller writes the regular files it asked for and takes nothing else (links, folders).

The stream comes from `tar -c` run as the user, so its content is the user's: a stream
that is not well formed (a size that runs past the end, a size or record that is not a
number) is refused whole with ValueError, never read past.  Header checksums are not
checked: ssh already guarantees the bytes arrived as tar wrote them.
"""

from __future__ import annotations

from collections.abc import Iterator

BLOCK = 512
REGULAR = frozenset(b"0\x007")  # a file (old tars write NUL; 7 is "contiguous": a file)
_GNU_LONG_NAME = ord("L")
_GNU_LONG_LINK = ord("K")  # a link's long target: it names no member, and keeps no name
_PAX = ord("x")
_PAX_GLOBAL = ord("g")
_USTAR = b"ustar\x00"  # POSIX ustar and pax: a name prefix at 345; GNU keeps times there


def regular_files(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(name, start, end) of each regular file in the tar stream `data`, in order: its
    bytes are data[start:end].  ValueError for a stream that is not well formed."""
    view = memoryview(data)
    at, long_name = 0, None
    while at + BLOCK <= len(data):
        header = view[at : at + BLOCK]
        if not any(header):  # the end: two zero blocks (one is enough to stop)
            return
        size = _size(header, at)
        start, end = at + BLOCK, at + BLOCK + size
        if end > len(data):
            raise ValueError(f"tar stream: the member at byte {at} runs past the end")
        kind = header[156]
        if kind == _GNU_LONG_NAME:
            long_name = bytes(view[start:end]).split(b"\x00", 1)[0]
        elif kind == _PAX:
            long_name = _pax_path(view[start:end], at) or long_name
        elif kind not in (_PAX_GLOBAL, _GNU_LONG_LINK):
            name = long_name if long_name is not None else _name(header)
            long_name = None
            if kind in REGULAR:
                yield name, start, end
        at = start + -(-size // BLOCK) * BLOCK
    if at > len(data):  # a member's last block cut short
        raise ValueError(f"tar stream: cut short at byte {len(data)}, inside a member")
    if at < len(data):
        raise ValueError(f"tar stream: {len(data) - at} byte(s) at its end are not a header")


def _name(header: memoryview) -> bytes:
    name = bytes(header[0:100]).split(b"\x00", 1)[0]
    if header[257:263] == _USTAR:
        prefix = bytes(header[345:500]).split(b"\x00", 1)[0]
        if prefix:
            return prefix + b"/" + name
    return name


def _size(header: memoryview, at: int) -> int:
    """The member's size: octal digits, or GNU's base-256 for 8 GiB and more."""
    field = bytes(header[124:136])
    if field[0] & 0x80:
        if field[0] != 0x80:  # a negative size
            raise ValueError(f"tar stream: the member at byte {at} has a negative size")
        return int.from_bytes(field[1:], "big")
    digits = field.split(b"\x00", 1)[0].strip(b" ")
    if not digits or digits.strip(b"01234567"):
        raise ValueError(f"tar stream: the member at byte {at} has no octal size: {field!r}")
    return int(digits, 8)


def _pax_path(records: memoryview, at: int) -> bytes | None:
    """The `path` of a pax extended header: records "<length> <key>=<value>\\n"."""
    data, i, path = bytes(records), 0, None
    while i < len(data) and data[i] != 0:
        space = data.find(b" ", i)
        digits = data[i:space]
        if space < 0 or not digits.isdigit() or int(digits) <= space - i:
            raise ValueError(f"tar stream: a malformed pax record in the member at byte {at}")
        record = data[space + 1 : i + int(digits)]
        if not record.endswith(b"\n") or b"=" not in record:
            raise ValueError(f"tar stream: a malformed pax record in the member at byte {at}")
        key, _, value = record[:-1].partition(b"=")
        if key == b"path":
            path = value
        i += int(digits)
    return path
