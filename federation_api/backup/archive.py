"""The backup archive: one plain tar file, every byte of which is accounted for.

Members, in order: `manifest.json`, `manifest.sig`, then the files the manifest lists, each
with a fixed header (mode 0600, owner 0, time 0), so the archive can be listed and unpacked
with `tar` by hand, yet the reader can check it completely: each header must be exactly the
one the writer makes for that name and size, the padding and the end of the archive must be
zeros, and each member's bytes must have the manifest's SHA-256. A changed byte anywhere is
therefore refused: in the manifest by its signature, in a file by its hash, elsewhere by the
layout. The reader never lets `tarfile` extract anything; it copies member bytes to paths it
chose itself.

The archive is written to a temporary name beside the target, created 0600 and exclusively,
synced, then renamed: a backup that exists is a whole one.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from federation_api.backup.errors import BackupError
from federation_api.backup.manifest import MANIFEST, SIGNATURE, Manifest

_BLOCK = tarfile.BLOCKSIZE
_RECORD = tarfile.RECORDSIZE
_CHUNK = 1 << 20
_MAX_MANIFEST = 4 << 20


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def _header(name: str, size: int) -> bytes:
    return _info(name, size).tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict")


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_archive(out: Path, manifest: bytes, signature: bytes,
                  members: Sequence[tuple[str, Path]]) -> None:
    """Write the archive at `out` (0600; an existing file is refused)."""
    if out.exists():
        raise BackupError(f"{out} exists already; choose a new file name")
    aside = out.with_name(f".{out.name}.partial")
    try:
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as e:
        raise BackupError(f"cannot write {aside}: {e.strerror}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            with tarfile.open(fileobj=f, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                for name, data in ((MANIFEST, manifest), (SIGNATURE, signature)):
                    tar.addfile(_info(name, len(data)), _BytesReader(data))
                for name, path in members:
                    if len(name) >= 100:
                        raise BackupError(f"member name {name!r} is too long for the archive")
                    with path.open("rb") as src:
                        tar.addfile(_info(name, path.stat().st_size), src)
            f.flush()
            os.fsync(f.fileno())
        os.replace(aside, out)
    except BaseException:
        aside.unlink(missing_ok=True)
        raise


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._at + size
        chunk = self._data[self._at:end]
        self._at += len(chunk)
        return chunk


@dataclass(frozen=True)
class Member:
    """Where one member's bytes are in the archive file."""

    name: str
    offset: int  # of its data
    size: int


class Archive:
    """A backup archive whose layout has been checked; its manifest is not yet trusted."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            with tarfile.open(path, mode="r:") as tar:
                infos = tar.getmembers()
        except (OSError, tarfile.TarError) as e:
            raise BackupError(f"{path} is not a backup archive ({e})") from e
        self.members = [Member(i.name, i.offset_data, i.size) for i in infos]
        names = [m.name for m in self.members]
        if names[:2] != [MANIFEST, SIGNATURE]:
            raise BackupError(f"{path} is not a backup archive (it does not start with "
                              f"{MANIFEST} and {SIGNATURE})")
        if len(set(names)) != len(names):
            raise BackupError(f"{path} holds a file twice")
        if self.members[0].size > _MAX_MANIFEST:
            raise BackupError(f"{path}: the manifest is too large")
        self._check_layout()
        self.manifest_bytes = self.read(MANIFEST)
        self.signature = self.read(SIGNATURE)

    def _check_layout(self) -> None:
        """Every header as the writer makes it, zero padding, zeros to the end."""
        with self.path.open("rb") as f:
            at = 0
            for member in self.members:
                header = _header(member.name, member.size)
                if member.offset != at + len(header):
                    raise self._damaged(f"a header before {member.name} is not the writer's")
                f.seek(at)
                if f.read(len(header)) != header:
                    raise self._damaged(f"the header of {member.name} was changed")
                end = member.offset + member.size
                padded = -(-end // _BLOCK) * _BLOCK
                f.seek(end)
                if f.read(padded - end).strip(b"\0"):
                    raise self._damaged(f"the padding after {member.name} was changed")
                at = padded
            f.seek(at)
            rest = f.read()
            if rest.strip(b"\0") or len(rest) < 2 * _BLOCK or (at + len(rest)) % _RECORD:
                raise self._damaged("the end of the archive was changed")

    def _damaged(self, what: str) -> BackupError:
        return BackupError(f"{self.path} is damaged or was changed: {what}")

    def member(self, name: str) -> Member:
        """A member by name."""
        for member in self.members:
            if member.name == name:
                return member
        raise BackupError(f"{self.path} holds no {name}")

    def read(self, name: str) -> bytes:
        """A (small) member's bytes."""
        member = self.member(name)
        with self.path.open("rb") as f:
            f.seek(member.offset)
            return f.read(member.size)

    def check_files(self, manifest: Manifest) -> None:
        """The members are exactly the manifest's files, each with its size and hash."""
        listed = [entry.name for entry in manifest.files]
        present = [m.name for m in self.members[2:]]
        if present != listed:
            extra = sorted(set(present) - set(listed))
            missing = sorted(set(listed) - set(present))
            raise self._damaged(f"its files are not the manifest's (extra {extra}, missing "
                                f"{missing})")
        for entry in manifest.files:
            member = self.member(entry.name)
            if member.size != entry.size:
                raise self._damaged(f"{entry.name} has {member.size} bytes, the manifest "
                                    f"says {entry.size}")
            if self.copy(entry.name, None) != entry.sha256:
                raise self._damaged(f"{entry.name} does not have the manifest's SHA-256")

    def copy(self, name: str, target: Path | None) -> str:
        """Stream a member into `target` (None: nowhere); returns the hex SHA-256 of what was
        read, so a caller can check that what it wrote is what was verified."""
        member = self.member(name)
        digest = hashlib.sha256()
        out = None if target is None else target.open("xb")
        try:
            with self.path.open("rb") as f:
                f.seek(member.offset)
                left = member.size
                while left:
                    chunk = f.read(min(_CHUNK, left))
                    if not chunk:
                        raise self._damaged(f"{name} ends early")
                    digest.update(chunk)
                    if out is not None:
                        out.write(chunk)
                    left -= len(chunk)
            if out is not None:
                out.flush()
                os.fsync(out.fileno())
        finally:
            if out is not None:
                out.close()
        return digest.hexdigest()
