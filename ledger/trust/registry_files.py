"""The trust registry on disk: genesis (JSON, distributed out of band) and entries.

A registry directory holds `genesis.json` and `entries.bin` (the verified entries' wire bytes
in order, one canonical MessagePack array). Proposals being signed by governance key holders
travel as single-entry files, so signatures can be collected from separate machines.
"""

from __future__ import annotations

from pathlib import Path

from ledger.codec import decode_canonical, decode_json, encode, encode_json
from ledger.trust.registry import (
    Genesis,
    RegistryEntry,
    RegistryState,
    apply_entry,
    verify_registry,
    wire_of,
)


class RegistryDir:
    """Files of one copy of the registry."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def genesis_path(self) -> Path:
        """The root of trust."""
        return self.root / "genesis.json"

    @property
    def entries_path(self) -> Path:
        """All entries, in order."""
        return self.root / "entries.bin"

    def exists(self) -> bool:
        """Whether a genesis is present."""
        return self.genesis_path.exists()

    def create(self, genesis: Genesis) -> None:
        """Write a new registry with no entries."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self.genesis_path.exists():
            raise FileExistsError(f"{self.genesis_path} exists already")
        self.genesis_path.write_bytes(encode_json(genesis))
        self._write_entries([])

    def genesis(self) -> Genesis:
        """The genesis."""
        return decode_json(self.genesis_path.read_bytes(), Genesis)

    def entries(self) -> list[bytes]:
        """Wire bytes of every entry."""
        if not self.entries_path.exists():
            return []
        return list(decode_canonical(self.entries_path.read_bytes(), list[bytes]))

    def state(self) -> RegistryState:
        """Verify from genesis and return the state."""
        return verify_registry(self.genesis(), self.entries())

    def append(self, entry: RegistryEntry) -> RegistryState:
        """Verify a fully signed entry against the current state and store it."""
        state = self.state()
        wire = wire_of(entry)
        new_state = apply_entry(state, wire)
        self._write_entries([*self.entries(), wire])
        return new_state

    def replace_entries(self, wires: list[bytes]) -> RegistryState:
        """Adopt a longer verified copy (e.g. from a peer); refuses one that does not verify."""
        state = verify_registry(self.genesis(), wires)
        current = self.entries()
        if wires[:len(current)] != current:
            raise ValueError("the offered registry does not extend this one")
        self._write_entries(wires)
        return state

    def _write_entries(self, wires: list[bytes]) -> None:
        tmp = self.entries_path.with_suffix(".tmp")
        tmp.write_bytes(encode(wires))
        tmp.replace(self.entries_path)


def read_proposal(path: Path) -> RegistryEntry:
    """A proposal file (an entry with zero or more signatures)."""
    return decode_canonical(path.read_bytes(), RegistryEntry)


def write_proposal(path: Path, entry: RegistryEntry) -> None:
    """Write a proposal file."""
    path.write_bytes(wire_of(entry))
