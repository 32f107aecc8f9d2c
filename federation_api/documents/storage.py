"""Where document bytes live: the storage port, and its embedded default on disk.

A production deployment may point the port at other storage (an object store, a file server);
the node only needs the four operations of `DocumentStorage`. Files are named by the SHA-256
of their content, so the name is the integrity check (`get` of a name gives exactly those
bytes, or the storage is broken) and the same transcript uploaded twice is kept once.

`DiskStorage` writes each file to a temporary name in its final directory, fsyncs it, renames
it to its hash and fsyncs the directory: a process killed at any moment leaves either the
whole file under its hash or nothing under any hash (at most a temporary file, which is never
read as a document and is swept at the next start). Directories are 0700, files 0600: the
node's own user is the only reader.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from federation_api.clock import now
from federation_api.documents.errors import StorageFailed

CHUNK = 64 * 1024
_HASH = re.compile(r"[0-9a-f]{64}")
_TEMPORARY = ".partial-"
STALE_SECONDS = 3600.0  # a temporary file this old belongs to no upload still running


class DocumentStorage(Protocol):
    """Content-addressed document bytes."""

    def put(self, source: BinaryIO) -> str:
        """Keep the bytes `source` reads (from its current position to its end); return their
        SHA-256 (hex), the name to get them back by."""

    def get(self, sha256: str) -> Iterator[bytes]:
        """The bytes named `sha256`, in chunks; StorageFailed if there are none."""

    def delete(self, sha256: str) -> None:
        """Forget the bytes named `sha256` (nothing if there are none)."""

    def exists(self, sha256: str) -> bool:
        """Whether bytes named `sha256` are kept."""


def check_name(sha256: str) -> str:
    """A storage name is 64 lowercase hex digits, so it can never name a path elsewhere."""
    if not _HASH.fullmatch(sha256):
        raise StorageFailed("not a document storage name")
    return sha256


def private_directory(path: Path) -> Path:
    """`path` as a directory only the node's user may enter (0700), made if missing."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DiskStorage:
    """Documents as files under `root`, `root/<first two hex digits>/<sha256>`."""

    def __init__(self, root: Path, *, chunk: int = CHUNK) -> None:
        self.root = private_directory(root)
        self.chunk = chunk
        self.sweep()

    def _path(self, sha256: str) -> Path:
        name = check_name(sha256)
        return self.root / name[:2] / name

    def put(self, source: BinaryIO) -> str:
        """Copy `source` into a temporary file, hashing as it goes; fsync; rename it to its
        hash (the same bytes already there: the copy is dropped)."""
        incoming = self.root / "incoming"
        private_directory(incoming)
        temporary = incoming / f"{_TEMPORARY}{secrets.token_hex(16)}"
        digest = hashlib.sha256()
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                while block := source.read(self.chunk):
                    digest.update(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            final = self._path(sha256)
            private_directory(final.parent)
            # The temporary file is in the storage's own file system, so the rename is atomic.
            os.replace(temporary, final)
            _fsync_directory(final.parent)
            return sha256
        except OSError as e:
            raise StorageFailed(f"cannot store the document: {e.strerror}") from e
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()

    def get(self, sha256: str) -> Iterator[bytes]:
        """The file's bytes in chunks (opened now, so a missing file fails here, not later)."""
        try:
            handle = self._path(sha256).open("rb")
        except OSError as e:
            raise StorageFailed(f"document {sha256[:12]} is not in the storage") from e
        return _chunks(handle, self.chunk)

    def delete(self, sha256: str) -> None:
        """Remove the file, if it is there."""
        with contextlib.suppress(FileNotFoundError):
            self._path(sha256).unlink()

    def exists(self, sha256: str) -> bool:
        """Whether the file is there."""
        return self._path(sha256).is_file()

    def names(self) -> list[str]:
        """Every stored hash (for tests and the sweep of unreferenced files)."""
        return [p.name for p in stored_files(self.root)]

    def sweep(self, *, older_than: float = STALE_SECONDS) -> int:
        """Remove temporary files of uploads that cannot still be running (their process
        was killed); returns how many. Never touches a file named by its hash."""
        removed = 0
        cutoff = now().timestamp() - older_than
        for path in (self.root / "incoming").glob(f"{_TEMPORARY}*"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed


def stored_files(root: Path) -> list[Path]:
    """The files a `DiskStorage` at `root` holds under their hashes (what a backup copies;
    never a partial file), sorted."""
    return sorted((p for p in root.glob("??/*") if _HASH.fullmatch(p.name) and p.is_file()),
                  key=lambda p: p.name)


def _chunks(handle: BinaryIO, size: int) -> Iterator[bytes]:
    with handle:
        while block := handle.read(size):
            yield block
