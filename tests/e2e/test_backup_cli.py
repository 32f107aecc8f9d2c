"""`alliance backup` and `alliance restore` as an operator runs them (issue 13).

A backup of a serving node verifies; a changed byte anywhere in it (manifest, signature, a
store, a header, padding, the end) is refused by `backup verify` and by `restore`, which then
writes nothing. Without `--include-keys` a backup holds no private key and a restore needs the
key files, naming them, and refuses wrong ones; sealed keys open only with their passphrase.
A restored node served without NATS refuses every command with 503, saying why, until an
operator's override (kept in restores.log) lets it seal the next seq.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import NodeDir, ServerProcess, head_seq, init_node, run_alliance, today
from tests.pg import postgres_schema_url

pytestmark = pytest.mark.timeout(180)

ROLES = ("coordinator", "auditor")
SIGNED = 5
PASSPHRASE = "correct horse battery staple"


def imported(index: int) -> dict[str, Any]:
    """An import of one Level III endorsement from the paper roster."""
    return {"person_id": f"AK-P-{index:04d}", "family_name": f"Family{index}",
            "given_name": "Given", "level": "IMHS", "granted_on": "2015-03-02",
            "valid_through": dt.date(today().year + 1, 12, 31).isoformat(),
            "legacy_reference": f"paper-{index:04d}"}


def backed_up(tmp_path: Path, *extra: str, database_url: str | None = None
              ) -> tuple[NodeDir, Path]:
    """A node with SIGNED entries, backed up while `alliance serve` runs."""
    node = init_node(tmp_path / "ak", database_url=database_url, roles=ROLES)
    archive = tmp_path / "backups" / "ak.tar"
    archive.parent.mkdir()
    with ServerProcess(node) as server, server.client() as c:
        for index in range(1, SIGNED + 1):
            r = c.post("/v1/endorsements/imports", headers=node.auth("coordinator"),
                       json=imported(index))
            assert r.status_code == 201, r.text
        done = node.cli("backup", "--out", str(archive), *extra)
    assert f"ledger heads: AK {SIGNED}" in done.stdout, done.stdout
    assert archive.stat().st_mode & 0o777 == 0o600
    return node, archive


def passphrase_file(tmp_path: Path, text: str) -> Path:
    """A file holding a passphrase (0600), as an operator keeps one."""
    path = tmp_path / f"passphrase-{len(list(tmp_path.glob('passphrase-*')))}"
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


def restore(target: Path, archive: Path, *extra: str, check: bool = False) -> Any:
    """`alliance restore --from archive --data-dir target ...`."""
    return run_alliance("restore", "--from", str(archive), "--data-dir", str(target), *extra,
                        check=check)


def offsets(archive: Path) -> dict[str, int]:
    """Where to change one byte: in each kind of place the archive has."""
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
    by_name = {m.name: m for m in members}
    ledger = by_name["db/ledger.sqlite"]
    last = members[-1]
    end = last.offset_data + last.size
    manifest = by_name["manifest.json"]
    with tarfile.open(archive) as tar:
        text = tar.extractfile(manifest).read()  # type: ignore[union-attr]
    head = text.index(f'"AK": {SIGNED}'.encode()) + len('"AK": ')
    return {
        "manifest": manifest.offset_data + head,  # the head seq: 5 becomes 4
        "signature": by_name["manifest.sig"].offset_data + 10,
        "store": ledger.offset_data + ledger.size // 2,
        "header": ledger.offset + 140,  # inside the header's mtime field
        "padding": by_name["manifest.sig"].offset_data + 64 + 10,
        "end": end + ((-end) % 512) + 100,
    }


def test_a_changed_byte_anywhere_is_refused_by_verify_and_restore(tmp_path: Path) -> None:
    node, archive = backed_up(tmp_path)
    verified = run_alliance("backup", "verify", str(archive))
    assert "files verified" in verified.stdout and f"AK {SIGNED}" in verified.stdout
    original = archive.read_bytes()
    for where, at in offsets(archive).items():
        changed = bytearray(original)
        changed[at] ^= 0x01
        tampered = tmp_path / f"tampered-{where}.tar"
        tampered.write_bytes(bytes(changed))
        done = run_alliance("backup", "verify", str(tampered), check=False)
        assert done.returncode == 2, (where, done.stdout)
        assert "alliance: error:" in done.stderr, (where, done.stderr)
        target = tmp_path / f"restored-{where}"
        done = restore(target, tampered, "--keys-from", str(node.data_dir / "keys"))
        assert done.returncode == 2, (where, done.stdout, done.stderr)
        assert not target.exists(), where  # nothing written
    assert "signature does not verify" in run_alliance(
        "backup", "verify", str(tmp_path / "tampered-manifest.tar"), check=False).stderr
    assert "does not have the manifest's SHA-256" in run_alliance(
        "backup", "verify", str(tmp_path / "tampered-store.tar"), check=False).stderr


def test_without_keys_a_restore_needs_the_key_files_and_then_waits_for_an_override(
        tmp_path: Path) -> None:
    node, archive = backed_up(tmp_path)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert not [n for n in names if n.endswith(".key")], names
    assert b"PRIVATE KEY" not in archive.read_bytes()
    target = tmp_path / "restored"

    done = restore(target, archive)
    assert done.returncode == 2
    assert "holds no private keys" in done.stderr and "--keys-from DIR" in done.stderr
    assert "signing.key" in done.stderr and "commitment.key" in done.stderr
    assert not target.exists()
    partial = tmp_path / "partial-keys"
    partial.mkdir()
    shutil.copy(node.data_dir / "keys" / "signing.key", partial)
    done = restore(target, archive, "--keys-from", str(partial))
    assert done.returncode == 2, done.stderr
    assert "lacks accounts.key, commitment.key" in done.stderr, done.stderr
    other = init_node(tmp_path / "other", roles=())
    done = restore(target, archive, "--keys-from", str(other.data_dir / "keys"))
    assert done.returncode == 2, done.stderr
    assert "is not the key file this backup was made with" in done.stderr
    assert not target.exists()

    done = restore(target, archive, "--keys-from", str(node.data_dir / "keys"), check=True)
    assert "marked as restored, not yet caught up" in done.stdout
    for key in ("signing.key", "commitment.key", "accounts.key"):
        restored_key = target / "keys" / key
        assert restored_key.read_bytes() == (node.data_dir / "keys" / key).read_bytes()
        assert restored_key.stat().st_mode & 0o777 == 0o600
    again = restore(target, archive, "--keys-from", str(node.data_dir / "keys"))
    assert again.returncode == 2 and "is not empty" in again.stderr

    restored = NodeDir(data_dir=target, association="AK", tokens=node.tokens)
    assert f"{SIGNED} entries verified" in restored.cli("ledger", "verify").stdout
    server = ServerProcess(restored)
    with server, server.client() as c:
        r = c.post("/v1/endorsements/imports", headers=restored.auth("coordinator"),
                   json=imported(SIGNED + 1))
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "ledger_behind"
        assert "restored from a backup" in r.json()["message"], r.json()
        assert "alliance restore release" in r.json()["message"], r.json()
        assert head_seq(c, restored) == SIGNED
    assert "restored from a backup" in server.log()

    short = restored.cli("restore", "release", "--reason", "alone", check=False)
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    released = restored.cli("restore", "release", "--reason",
                            "AK has no peers and no hub yet; nobody holds more")
    assert "operator override" in released.stdout
    history = (target / "restores.log").read_text()
    assert '"how":"operator override"' in history and "nobody holds more" in history
    assert not (target / "restored.json").exists()
    with server, server.client() as c:
        r = c.post("/v1/endorsements/imports", headers=restored.auth("coordinator"),
                   json=imported(SIGNED + 1))
        assert r.status_code == 201, r.text
        assert head_seq(c, restored) == SIGNED + 1
    assert f"{SIGNED + 1} entries verified" in restored.cli("ledger", "verify").stdout


def test_sealed_keys_open_only_with_their_passphrase(tmp_path: Path) -> None:
    too_short = passphrase_file(tmp_path, "short")
    node = init_node(tmp_path / "ak", roles=ROLES)
    refused = node.cli("backup", "--out", str(tmp_path / "x.tar"), "--include-keys",
                       "--passphrase-file", str(too_short), check=False)
    assert refused.returncode == 2 and "at least 12 characters" in refused.stderr
    assert not (tmp_path / "x.tar").exists()
    shutil.rmtree(node.data_dir)

    right = passphrase_file(tmp_path, PASSPHRASE)
    node, archive = backed_up(tmp_path, "--include-keys", "--passphrase-file", str(right))
    data = archive.read_bytes()
    assert b"PRIVATE KEY" not in data
    assert (node.data_dir / "keys" / "commitment.key").read_bytes() not in data
    assert "private keys sealed" in run_alliance("backup", "verify", str(archive)).stdout
    target = tmp_path / "restored"

    done = restore(target, archive)
    assert done.returncode == 2 and "sealed under a passphrase" in done.stderr
    wrong = passphrase_file(tmp_path, "correct horse battery stapler")
    done = restore(target, archive, "--passphrase-file", str(wrong))
    assert done.returncode == 2, done.stderr
    assert "do not open with this passphrase" in done.stderr
    assert not target.exists()

    restore(target, archive, "--passphrase-file", str(right), check=True)
    for key in ("signing.key", "commitment.key"):
        assert ((target / "keys" / key).read_bytes()
                == (node.data_dir / "keys" / key).read_bytes())
    restored = NodeDir(data_dir=target, association="AK")
    assert f"{SIGNED} entries verified" in restored.cli("ledger", "verify").stdout


def test_force_replaces_only_a_node(tmp_path: Path) -> None:
    node, archive = backed_up(tmp_path)
    elsewhere = tmp_path / "not-a-node"
    elsewhere.mkdir()
    (elsewhere / "notes.txt").write_text("keep me")
    done = restore(elsewhere, archive, "--keys-from", str(node.data_dir / "keys"), "--force")
    assert done.returncode == 2 and "does not hold a node" in done.stderr
    assert (elsewhere / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in elsewhere.iterdir()) == ["notes.txt"]


@pytest.mark.postgres
def test_a_postgresql_node_is_restored_into_its_own_schema_only(tmp_path: Path) -> None:
    with postgres_schema_url() as pg_url:
        node, archive = backed_up(tmp_path, database_url=pg_url)
        schema = pg_url.rsplit("schema=", 1)[1]
        assert "stores: postgres" in run_alliance("backup", "verify", str(archive)).stdout
        target = tmp_path / "restored"
        keys = ("--keys-from", str(node.data_dir / "keys"))
        done = restore(target, archive, *keys, "--database-url", pg_url)
        assert done.returncode == 2 and "tables already; give --force" in done.stderr
        other = pg_url.replace(f"schema={schema}", "schema=elsewhere")
        done = restore(target, archive, *keys, "--database-url", other)
        assert done.returncode == 2 and f"?schema={schema}" in done.stderr, done.stderr
        done = restore(target, archive, *keys)
        assert done.returncode == 2 and "give the --database-url" in done.stderr, done.stderr
        assert not target.exists()

        restore(target, archive, *keys, "--database-url", pg_url, "--force", check=True)
        restored = NodeDir(data_dir=target, association="AK", database_url=pg_url,
                           tokens=node.tokens)
        assert f"{SIGNED} entries verified" in restored.cli("ledger", "verify").stdout
        assert "operator override" in restored.cli(
            "restore", "release", "--reason", "test: AK alone, nobody holds more").stdout
        server = ServerProcess(restored)
        with server, server.client() as c:
            r = c.post("/v1/endorsements/imports", headers=restored.auth("coordinator"),
                       json=imported(SIGNED + 1))
            assert r.status_code == 201, r.text
            assert head_seq(c, restored) == SIGNED + 1
