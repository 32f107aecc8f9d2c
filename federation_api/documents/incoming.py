"""An upload on its way in: the bytes spooled to a private temporary file as they arrive,
hashed and counted, and refused the moment they pass the size limit.

The spool is what the content checks read (they need to seek: a PDF is read from its end)
before anything reaches the storage, so a refused upload never touches the storage and a
production storage elsewhere never receives a file the node has not checked. The spool is an
anonymous temporary file (no name on Linux, deleted on close elsewhere): a process killed in
the middle of an upload leaves nothing behind. Memory is one chunk, whatever the file's size.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import BinaryIO

from federation_api.documents.errors import DocumentRefused, TooLarge
from federation_api.documents.storage import private_directory

HEAD = 4096  # the bytes the sniffing looks at first


def too_large(limit: int) -> TooLarge:
    """The refusal of a file over `limit` bytes, in the words the form shows."""
    return TooLarge(f"The file is larger than {limit // (1024 * 1024)} MB. Send a smaller "
                    f"file (a scan at 150-300 dpi is plenty).", rule="document.size")


class Incoming:
    """One upload's spool, bounded by `limit` bytes."""

    def __init__(self, directory: Path, *, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.head = b""
        self._digest = hashlib.sha256()
        # Closed by close() / the with block; it outlives this call on purpose.
        self._file: BinaryIO = tempfile.TemporaryFile(  # noqa: SIM115
            dir=private_directory(directory))

    def write(self, chunk: bytes) -> None:
        """Add the next bytes; TooLarge (and the spool is dropped) past the limit."""
        self.size += len(chunk)
        if self.size > self.limit:
            self.close()
            raise too_large(self.limit)
        if len(self.head) < HEAD:
            self.head += chunk[:HEAD - len(self.head)]
        self._digest.update(chunk)
        self._file.write(chunk)

    @property
    def sha256(self) -> str:
        """The SHA-256 (hex) of the bytes so far."""
        return self._digest.hexdigest()

    def reader(self) -> BinaryIO:
        """The spooled bytes from their start (refused if empty)."""
        if self.size == 0:
            raise DocumentRefused("The file is empty. Choose the file again.",
                                  rule="document.empty")
        self._file.flush()
        self._file.seek(0)
        return self._file

    def close(self) -> None:
        """Drop the spool (its bytes are gone with it)."""
        self._file.close()

    def __enter__(self) -> Incoming:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
