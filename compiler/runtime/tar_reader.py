"""The regular files in a tar stream, read from its bytes as they arrive (Run.fetch over ssh).

`tarfile` builds a TarInfo per member and checks and decodes every header field; for the
200,000 small logs of a 100,000-task fetch that is most of the time fetch takes.  This
reads only what fetch needs: each member's name (ustar prefix, GNU long names and pax
`path` records included), its type and its data.  Nothing is extracted here: the caller
writes the regular files it asked for and takes nothing else (links, folders).

TarReader is fed the stream in pieces as ssh delivers them, so the files are written
while the rest is still on its way; a member is handed out only once all of its bytes
have arrived, never in part.

The stream comes from `tar -c` run as the user, so its content is the user's: a stream
that is not well formed (a size or record that is not a number, a stream that ends
inside a member) is refused with ValueError, never read past.  Header checksums are not
checked: ssh already guarantees the bytes arrived as tar wrote them.
"""

from __future__ import annotations

BLOCK = 512
REGULAR = frozenset(b"0\x007")  # a file (old tars write NUL; 7 is "contiguous": a file)
_GNU_LONG_NAME = ord("L")
_GNU_LONG_LINK = ord("K")  # a link's long target: it names no member, and keeps no name
_PAX = ord("x")
_PAX_GLOBAL = ord("g")
_USTAR = b"ustar\x00"  # POSIX ustar and pax: a name prefix at 345; GNU keeps times there
_ZERO_BLOCK = bytes(BLOCK)

File = tuple[bytes, memoryview]  # a regular file's name and its bytes


class TarReader:
    """Reads a tar stream fed to it piece by piece: `feed` returns the regular files
    completed by each piece, `close` says whether the stream ended where it may."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []  # what arrived after the last whole member
        self._have = 0  # their length
        self._need = BLOCK  # bytes, from the last whole member, before one more is whole
        self._base = 0  # the stream offset of the last whole member's end (for messages)
        self._long_name: bytes | None = None  # from a GNU 'L' or pax record, for the next
        self._ended = False  # the zero block seen: what follows is tar's padding

    def feed(self, piece: bytes) -> list[File]:
        """The regular files whose last byte is in `piece`, in stream order."""
        if self._ended or not piece:
            return []
        self._parts.append(piece)
        self._have += len(piece)
        if self._have < self._need:  # a large member: joined once, when it is all here
            return []
        data = self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)
        files, at = self._scan(data)
        rest = data[at:]
        self._base += at
        self._parts = [rest] if rest else []
        self._have = len(rest)
        return files

    def close(self) -> None:
        """ValueError unless the stream ended at the end of a member (or with tar's
        end-of-archive block)."""
        if self._ended or not self._have:
            return
        end = self._base + self._have
        if self._have < BLOCK:
            raise ValueError(f"tar stream: {self._have} byte(s) at its end are not a header")
        header = memoryview(b"".join(self._parts))[:BLOCK]
        if BLOCK + _size(header, self._base) > self._have:
            raise ValueError(f"tar stream: the member at byte {self._base} runs past the end")
        raise ValueError(f"tar stream: cut short at byte {end}, inside a member")

    def _scan(self, data: bytes) -> tuple[list[File], int]:
        """The whole members at the start of `data`: the regular files among them, and
        where the first one not whole yet begins (self._need says how much it needs)."""
        view, at = memoryview(data), 0
        files: list[File] = []
        while True:
            if at + BLOCK > len(data):
                self._need = BLOCK
                return files, at
            header = view[at : at + BLOCK]
            if data[at] == 0 and header == _ZERO_BLOCK:  # the end (one block is enough)
                self._ended = True
                return files, at
            size = _size(header, self._base + at)
            start = at + BLOCK
            following = start + -(-size // BLOCK) * BLOCK
            if following > len(data):
                self._need = following - at
                return files, at
            kind = header[156]
            if kind == _GNU_LONG_NAME:
                self._long_name = bytes(view[start : start + size]).split(b"\x00", 1)[0]
            elif kind == _PAX:
                path = _pax_path(view[start : start + size], self._base + at)
                self._long_name = path or self._long_name
            elif kind not in (_PAX_GLOBAL, _GNU_LONG_LINK):
                name = self._long_name if self._long_name is not None else _name(header)
                self._long_name = None
                if kind in REGULAR:
                    files.append((name, view[start : start + size]))
            at = following


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
