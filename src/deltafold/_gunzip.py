"""Recorded files that are gzip-compressed read like the plain ones (the CLI and bulk inputs).

Logs are often kept gzipped (``responses.sse.gz``, ``chunks.jsonl.gz``). A
file is told to be gzip by its first bytes (``1f 8b``), not by its name, so a
renamed file reads too. Decompressing is bounded: never more than
``limit`` bytes come out (the fold's ``max_total_bytes`` plus one, so a body
over the limit still fails as it would uncompressed), whatever the ratio.
Values inside a table are not decompressed: ``assemble`` reads a body as given.
"""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

from ._limits import Limits

__all__ = ["GZIP_MAGIC", "body_limit", "gunzip", "is_gzip", "open_binary", "read_bytes"]

GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(data: bytes) -> bool:
    """Whether ``data`` starts like a gzip file."""
    return data[:2] == GZIP_MAGIC


def body_limit() -> int | None:
    """The most bytes one recorded body is read to: the fold's ``max_total_bytes`` plus one."""
    total = Limits().max_total_bytes
    return None if total is None else total + 1


def gunzip(data: bytes, *, limit: int | None = None) -> bytes:
    """``data`` decompressed when it is gzip (every member), as given otherwise.

    At most ``limit`` bytes come out (default: the fold's ``max_total_bytes`` plus one).
    Corrupt or cut gzip data raises ``OSError``.
    """
    if not is_gzip(data):
        return data
    limit = body_limit() if limit is None else limit
    out: list[bytes] = []
    size = 0
    rest = data
    try:
        while rest[:2] == GZIP_MAGIC and (limit is None or size < limit):
            decoder = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            piece = decoder.decompress(rest, 0 if limit is None else limit - size)
            out.append(piece)
            size += len(piece)
            if not decoder.eof:
                if limit is not None and size >= limit:
                    break  # over the limit: what came out is enough to say so
                raise OSError("gzip data is cut short")
            rest = decoder.unused_data
    except zlib.error as exc:
        raise OSError(f"bad gzip data ({exc})") from None
    return b"".join(out)


def read_bytes(path: Path) -> bytes:
    """A whole file's bytes, decompressed when it is gzip."""
    return gunzip(path.read_bytes())


def open_binary(path: Path) -> io.BufferedIOBase:
    """``path`` opened for reading bytes, through a gzip reader when it is gzip.

    Reading a cut or corrupt gzip file raises ``OSError`` or ``EOFError``.
    """
    with path.open("rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == GZIP_MAGIC else path.open("rb")
