"""`alliance export` + `alliance audit`: an untouched export passes; tampering is named."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from domain.levels import Level
from domain.policy import AssociationPolicy
from federation_api.accounts.tokens import Role
from federation_api.audit.export import export
from federation_api.audit.fetch import fetch
from federation_api.audit.run import audit
from federation_api.demo.seed import seed
from federation_api.node.root import Node
from federation_api.node.setup import init_node
from federation_api.settings import Settings
from ledger.codec import decode_canonical, encode
from ledger.signing import Signer

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("audit")
    settings = Settings(data_dir=root / "ak")
    init_node(settings, association="AK", name="Alaska", policy=AssociationPolicy(), now=NOW)
    node = Node(settings)
    seed(node, dt.date(2026, 6, 1))
    export(node, root / "export")
    node.close()
    return root / "export"


def _copy(exported: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(exported, target)
    return target


def _ledger(path: Path) -> list[bytes]:
    return list(decode_canonical((path / "ledgers" / "AK.bin").read_bytes(), list[bytes]))


def _write(path: Path, wires: list[bytes]) -> None:
    (path / "ledgers" / "AK.bin").write_bytes(encode(wires))


def test_untouched_export_passes_with_full_signatures(exported: Path) -> None:
    report = audit(exported, full_signatures=True, workers=2)
    assert report.ok, report.findings
    assert report.ledgers["AK"] == report.checkpoints["AK"] == report.signatures_verified
    assert report.digest == report.node_digest


def test_as_of_rebuilds_an_earlier_roster(exported: Path) -> None:
    report = audit(exported, as_of=dt.date(2000, 1, 1))
    assert report.ok
    assert report.digest != report.node_digest  # nothing was recorded by then


@pytest.mark.parametrize("tamper", ["edit", "remove", "reorder", "truncate"])
def test_tampered_ledger_is_a_finding(exported: Path, tmp_path: Path, tamper: str) -> None:
    copy = _copy(exported, tmp_path)
    wires = _ledger(copy)
    if tamper == "edit":  # change a name inside an entry, keep the old signature
        index = next(i for i, w in enumerate(wires) if b"Chen" in w)
        signed = msgspec.msgpack.decode(wires[index])
        signed["body"] = signed["body"].replace(b"Chen", b"Chan")
        wires[index] = encode(signed)
    elif tamper == "remove":
        del wires[3]
    elif tamper == "reorder":
        wires[2], wires[3] = wires[3], wires[2]
    else:  # drop the tail: the chain is intact but the signed checkpoint is longer
        wires = wires[:-2]
    _write(copy, wires)
    report = audit(copy, full_signatures=True, workers=1)
    assert not report.ok
    assert any("AK" in f for f in report.findings), report.findings


def test_checkpoint_signed_by_another_key_is_a_finding(exported: Path, tmp_path: Path) -> None:
    from ledger.transparency.checkpoints import parse_body
    from ledger.transparency.cosigners import origin_of
    from ledger.transparency.notes import parse_note, sign_note

    copy = _copy(exported, tmp_path)
    note = (copy / "checkpoints" / "AK.note").read_bytes()
    body = parse_body(parse_note(note).text).body()
    (copy / "checkpoints" / "AK.note").write_bytes(sign_note(body, origin_of("AK"),
                                                             Signer.generate()))
    report = audit(copy)
    assert any("checkpoint does not verify" in f for f in report.findings), report.findings


# -- witnessed checkpoints -------------------------------------------------------------------


GOVERNANCE = Signer.generate()


@pytest.fixture(scope="module")
def alliance_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """AK's export in a three-member Alliance (witness quorum 2 of AK's two peers), and the
    private key files of every member."""
    from federation_api.node.local_alliance import found_alliance
    from federation_api.node.setup import NodePaths

    root = tmp_path_factory.mktemp("alliance")
    settings = found_alliance(root, {"AK": "Alaska", "MI": "Michigan", "TX": "Texas"},
                              GOVERNANCE, alliance="test", created=NOW)
    node = Node(settings["AK"])
    seed(node, dt.date(2026, 6, 1))
    export(node, root / "export")
    node.close()
    return root / "export", {a: NodePaths(s.data_dir).signing_key for a, s in settings.items()}


def _cosign(export_dir: Path, name: str, signer: Signer, timestamp: int | None = None) -> None:
    from ledger.transparency.checkpoints import add_cosignature

    path = export_dir / "checkpoints" / "AK.note"
    path.write_bytes(add_cosignature(path.read_bytes(), name, signer,
                                     timestamp or int(NOW.timestamp()) + 3600))


def _member(keys: dict[str, Path], association: str) -> Signer:
    return Signer.load(keys[association])


def test_checkpoint_cosigned_by_a_quorum_is_witnessed(
        alliance_export: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    exported, keys = alliance_export
    copy = _copy(exported, tmp_path)
    _cosign(copy, "alliance-witness/MI", _member(keys, "MI"))
    _cosign(copy, "alliance-witness/TX", _member(keys, "TX"))
    report = audit(copy, require_witnessed=True)
    assert report.ok, report.findings
    assert report.witness_quorum == 2
    assert report.witnesses["AK"] == ["MI", "TX"]
    assert not [w for w in report.warnings if "quorum" in w]


def test_checkpoint_below_quorum_is_a_warning_or_on_request_a_finding(
        alliance_export: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    exported, keys = alliance_export
    copy = _copy(exported, tmp_path)
    _cosign(copy, "alliance-witness/MI", _member(keys, "MI"))
    lenient = audit(copy)
    assert lenient.ok, lenient.findings
    assert any("1 valid cosignatures" in w and "quorum is 2" in w for w in lenient.warnings)
    strict = audit(copy, require_witnessed=True)
    assert any("quorum is 2" in f for f in strict.findings), strict.findings


def test_cosignature_from_a_non_member_is_a_finding(
        alliance_export: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    exported, keys = alliance_export
    copy = _copy(exported, tmp_path)
    _cosign(copy, "alliance-witness/MI", _member(keys, "MI"))
    _cosign(copy, "alliance-witness/TX", _member(keys, "TX"))
    _cosign(copy, "alliance-witness/ZZ", Signer.generate())  # never admitted
    report = audit(copy)
    assert report.findings == ["AK: cosignature from a non-member 'ZZ'"]
    assert report.witnesses["AK"] == ["MI", "TX"]  # the others still count


@pytest.mark.parametrize("case", ["wrong key", "before the key", "foreign name"])
def test_invalid_cosignature_is_a_finding(alliance_export: tuple[Path, dict[str, Path]],
                                          tmp_path: Path, case: str) -> None:
    exported, keys = alliance_export
    copy = _copy(exported, tmp_path)
    if case == "wrong key":  # a member's name, someone else's key
        _cosign(copy, "alliance-witness/MI", Signer.generate())
        expected = "cosignature by MI does not verify"
    elif case == "before the key":  # MI's real key, dated before the registry admitted it
        _cosign(copy, "alliance-witness/MI", _member(keys, "MI"),
                timestamp=int(NOW.timestamp()) - 86_400)
        expected = "when the registry gave MI no valid key"
    else:
        _cosign(copy, "witness.example/w1", Signer.generate())
        expected = "neither the ledger nor an Alliance witness"
    report = audit(copy)
    assert not report.ok
    assert any(expected in f for f in report.findings), report.findings


def test_checkpoint_signed_with_a_rotated_out_key_is_a_finding(
        alliance_export: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    """After AK rotates its key in the registry, a checkpoint signed with the old key (the
    one in the export, re-signed before the rotation) no longer verifies."""
    from federation_api.node.local_alliance import admit
    from ledger.trust.registry import Action
    from ledger.trust.registry_files import RegistryDir

    exported, _ = alliance_export
    copy = _copy(exported, tmp_path)
    later = NOW + dt.timedelta(days=400)
    admit(RegistryDir(copy / "registry"), GOVERNANCE, Action.ADD_KEY, issued_at=later,
          association="AK", public_key=Signer.generate().public_key, effective_at=later)
    report = audit(copy)
    assert any("AK: checkpoint does not verify" in f for f in report.findings), report.findings
    assert report.ledgers["AK"] > 0  # the entries, signed before the rotation, still chain


# -- exports that carry a witnessed checkpoint (an older size than the latest) -------------


@dataclass
class Witnessed:
    """AK's export (and its fetch over HTTP) after MI and TX cosigned a checkpoint of
    `size` entries and AK's ledger grew past it; the members' key files."""

    exported: Path
    fetched: Path
    keys: dict[str, Path]
    size: int


@pytest.fixture(scope="module")
def witnessed(tmp_path_factory: pytest.TempPathFactory) -> Witnessed:
    from federation_api.clock import now
    from federation_api.node.endorsement_ids import new_endorsement_id
    from federation_api.node.local_alliance import found_alliance
    from federation_api.node.setup import NodePaths
    from ledger.transparency.checkpoints import add_cosignature, parse_body
    from ledger.transparency.cosigners import witness_name
    from ledger.transparency.notes import parse_note

    root = tmp_path_factory.mktemp("witnessed")
    settings = found_alliance(root, {"AK": "Alaska", "MI": "Michigan", "TX": "Texas"},
                              GOVERNANCE, alliance="test", created=NOW)
    keys = {a: NodePaths(s.data_dir).signing_key for a, s in settings.items()}
    node = Node(settings["AK"])
    try:
        seed(node, dt.date(2026, 6, 1))
        note = node.log.sign_checkpoint("AK", node.signer, NOW)
        size = parse_body(parse_note(note).text).size
        at = int(NOW.timestamp()) + 3600
        for peer in ("MI", "TX"):  # as checkpoint gossip brings a peer's cosigned note back
            cosigned = add_cosignature(note, witness_name(peer), _member(keys, peer), at)
            assert node.witness.collect(cosigned, NOW + dt.timedelta(hours=2)) == 1
        node.service.record_existing(  # the ledger grows past the witnessed checkpoint
            endorsement_id=new_endorsement_id("AK", "later"), person_id="AK-P-0099",
            family_name="Later", given_name="Ann", level=Level.IFS, designation=None,
            granted_on=dt.date(2021, 1, 1), valid_through=dt.date(2026, 12, 31),
            legacy_reference="paper-later", now=now())
        export(node, root / "export")
        with _served(node) as url:
            _, token = node.tokens.issue(label="auditor", role=Role.AUDITOR, now=NOW)
            fetch(url, token, root / "fetched")
    finally:
        node.close()
    return Witnessed(root / "export", root / "fetched", keys, size)


@contextmanager
def _served(node: Node) -> Iterator[str]:
    """The node's real app on a loopback port until the block ends; yields its URL."""
    import threading
    import time

    import uvicorn

    from federation_api.replication.nats_process import free_port
    from federation_api.web.app import create_app

    port = free_port("127.0.0.1")
    server = uvicorn.Server(uvicorn.Config(create_app(node), host="127.0.0.1", port=port,
                                           log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, name="audit-app", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _witnessed_note(export_dir: Path, size: int, root_hash: bytes, keys: dict[str, Path],
                    cosigners: tuple[tuple[str, Signer], ...]) -> None:
    """Replace the witnessed note with one AK signed over (size, root_hash), cosigned."""
    from ledger.transparency.checkpoints import Checkpoint, add_cosignature
    from ledger.transparency.cosigners import origin_of
    from ledger.transparency.notes import sign_note

    body = Checkpoint(origin=origin_of("AK"), size=size, root_hash=root_hash).body()
    note = sign_note(body, origin_of("AK"), _member(keys, "AK"))
    for name, signer in cosigners:
        note = add_cosignature(note, name, signer, int(NOW.timestamp()) + 3600)
    (export_dir / "checkpoints" / "AK.witnessed.note").write_bytes(note)


def _quorum(keys: dict[str, Path]) -> tuple[tuple[str, Signer], ...]:
    return (("alliance-witness/MI", _member(keys, "MI")),
            ("alliance-witness/TX", _member(keys, "TX")))


@pytest.mark.parametrize("workers", [1, 2])
def test_an_honest_witnessed_export_passes_require_witnessed(witnessed: Witnessed,
                                                             workers: int) -> None:
    from ledger.transparency.notes import parse_note

    latest = parse_note((witnessed.exported / "checkpoints" / "AK.note").read_bytes())
    assert len(latest.signatures) == 1  # the fresh checkpoint: AK's signature only
    report = audit(witnessed.exported, require_witnessed=True, workers=workers)
    assert report.ok, report.findings
    assert report.ledgers["AK"] == report.checkpoints["AK"] == witnessed.size + 1
    assert report.witnessed == {"AK": [witnessed.size]}
    assert report.as_json()["witnessed"] == {"AK": [witnessed.size]}
    assert not [w for w in report.warnings if "quorum" in w], report.warnings


def test_audit_over_http_fetches_the_witnessed_checkpoint(witnessed: Witnessed) -> None:
    for name in ("AK.note", "AK.witnessed.note"):
        assert (witnessed.fetched / "checkpoints" / name).read_bytes() == (
            witnessed.exported / "checkpoints" / name).read_bytes()
    report = audit(witnessed.fetched, require_witnessed=True, workers=1)
    assert report.ok, report.findings
    assert report.witnessed == {"AK": [witnessed.size]}


def test_a_witnessed_checkpoint_of_another_history_is_a_finding(witnessed: Witnessed,
                                                                tmp_path: Path) -> None:
    from ledger.transparency.merkle import leaf_hash
    from ledger.transparency.merkle import root as merkle_root

    copy = _copy(witnessed.exported, tmp_path)
    wires = _ledger(copy)[:witnessed.size]
    other = merkle_root([leaf_hash(w) for w in reversed(wires)])  # same entries, reordered
    _witnessed_note(copy, witnessed.size, other, witnessed.keys, _quorum(witnessed.keys))
    report = audit(copy, require_witnessed=True)
    assert report.findings[0] == (f"AK: Merkle root of the first {witnessed.size} entries "
                                  f"does not match the witnessed checkpoint (rewritten?)")
    assert "no witnessed checkpoint" in report.findings[1] and len(report.findings) == 2
    assert "AK" not in report.witnessed
    assert report.checkpoints["AK"] == report.ledgers["AK"]  # the latest one still matches


def test_a_witnessed_checkpoint_larger_than_the_ledger_is_a_finding(witnessed: Witnessed,
                                                                    tmp_path: Path) -> None:
    copy = _copy(witnessed.exported, tmp_path)
    count = len(_ledger(copy))
    _witnessed_note(copy, count + 3, bytes(range(32)), witnessed.keys, _quorum(witnessed.keys))
    report = audit(copy, workers=1)
    assert report.findings == [f"AK: witnessed checkpoint of size {count + 3} but only "
                               f"{count} entries (entries removed?)"]


def test_a_witnessed_checkpoint_with_a_non_member_cosignature_is_a_finding(
        witnessed: Witnessed, tmp_path: Path) -> None:
    copy = _copy(witnessed.exported, tmp_path)
    size = witnessed.size
    _witnessed_note(copy, size, _witnessed_root(copy), witnessed.keys,
                    (*_quorum(witnessed.keys), ("alliance-witness/ZZ", Signer.generate())))
    report = audit(copy, require_witnessed=True)
    assert report.findings == [f"AK: cosignature from a non-member 'ZZ' (on the witnessed "
                               f"checkpoint at {size})"]
    assert report.witnessed == {"AK": [size]}  # MI's and TX's cosignatures still count


def test_a_witnessed_checkpoint_below_quorum_is_a_finding(witnessed: Witnessed,
                                                          tmp_path: Path) -> None:
    copy = _copy(witnessed.exported, tmp_path)
    _witnessed_note(copy, witnessed.size, _witnessed_root(copy), witnessed.keys,
                    _quorum(witnessed.keys)[:1])
    report = audit(copy)
    assert report.findings == [f"AK: witnessed checkpoint at {witnessed.size} has 1 valid "
                               f"cosignatures, the registry's quorum is 2"]
    assert report.witnessed == {}
    assert any("no witnessed checkpoint" in w for w in report.warnings), report.warnings


def _witnessed_root(export_dir: Path) -> bytes:
    from ledger.transparency.checkpoints import parse_body
    from ledger.transparency.notes import parse_note

    note = (export_dir / "checkpoints" / "AK.witnessed.note").read_bytes()
    return parse_body(parse_note(note).text).root_hash


def test_a_live_node_with_a_registry_is_audited_over_http(tmp_path: Path) -> None:
    """`audit --url`: registry (not the node's keyring), checkpoints and every entry come over
    the auditor API of a real server; the replay reproduces the node's digest, and the
    registry is trusted only because its genesis is the one the auditor pinned."""
    from federation_api.accounts.tokens import Role
    from federation_api.audit.fetch import FetchError, fetch
    from tests.integration.live_app import live_node

    with live_node(tmp_path / "node") as live:
        genesis = live.node.registry_dir.genesis()
        token = live.token(Role.AUDITOR)["Authorization"].removeprefix("Bearer ")
        fetched = fetch(live.url, token, tmp_path / "fetched")
        with pytest.raises(FetchError, match="HTTP 401"):
            fetch(live.url, "wrong", tmp_path / "refused")
        with live.client(**live.token(Role.AUDITOR)) as c:
            heads = c.get("/v1/ledger/heads").json()
    assert fetched == heads["heads"] == heads["projected"] and fetched["AK"] > 0
    assert (tmp_path / "fetched" / "registry" / "genesis.json").exists()
    assert not (tmp_path / "fetched" / "keyring.json").exists()
    report = audit(tmp_path / "fetched", full_signatures=True, workers=1,
                   pinned_genesis=genesis, keys_from_node=True)
    assert report.ok, report.findings
    assert report.digest == report.node_digest == heads["digest"]
    assert report.signatures_verified == fetched["AK"] == report.checkpoints["AK"]
    assert report.genesis_digest == report.as_json()["genesis_digest"] == genesis.digest().hex()

    other = msgspec.structs.replace(genesis, alliance="Another Alliance")
    refused = audit(tmp_path / "fetched", workers=1, pinned_genesis=other, keys_from_node=True)
    assert refused.findings == [f"genesis: the export's genesis (digest {genesis.digest().hex()})"
                                f" is not the pinned one (digest {other.digest().hex()})"]


def _genesis_file(path: Path, genesis: object) -> str:
    from ledger.codec import encode_json

    path.write_bytes(encode_json(genesis))
    return str(path)


def test_audit_cli_over_url_needs_the_pinned_genesis(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Through `alliance audit`: the right genesis passes, another one is a finding (exit 1),
    none at all is refused before anything is audited (exit 2)."""
    import json

    from federation_api.accounts.tokens import Role
    from federation_api.cli.main import main
    from tests.integration.live_app import live_node

    with live_node(tmp_path / "node") as live:
        genesis = live.node.registry_dir.genesis()
        token = tmp_path / "auditor.token"
        token.write_text(live.token(Role.AUDITOR)["Authorization"].removeprefix("Bearer "))
        base = ["audit", "--url", live.url, "--token-file", str(token)]
        right = _genesis_file(tmp_path / "right.json", genesis)
        wrong = _genesis_file(tmp_path / "wrong.json",
                              msgspec.structs.replace(genesis, alliance="Another Alliance"))
        capsys.readouterr()
        assert main([*base, "--genesis", right]) == 0
        passed = capsys.readouterr()
        assert f"genesis digest: {genesis.digest().hex()}" in passed.out
        assert "audit passed" in passed.out
        assert main([*base, "--genesis", wrong, "--json"]) == 1
        failed = json.loads(capsys.readouterr().out)
        assert failed["genesis_digest"] == genesis.digest().hex()
        assert len(failed["findings"]) == 1
        assert failed["findings"][0].startswith("genesis: the export's genesis")
        assert main(base) == 2
        assert "--genesis FILE" in capsys.readouterr().err
        (tmp_path / "garbage.json").write_text("{}")
        assert main([*base, "--genesis", str(tmp_path / "garbage.json")]) == 2
        assert "cannot read the genesis file" in capsys.readouterr().err


def test_directory_audit_compares_a_pinned_genesis(witnessed: Witnessed) -> None:
    from ledger.trust.registry_files import RegistryDir

    genesis = RegistryDir(witnessed.exported / "registry").genesis()
    assert audit(witnessed.exported, workers=1, pinned_genesis=genesis).ok
    other = msgspec.structs.replace(genesis, alliance="Another Alliance")
    report = audit(witnessed.exported, workers=1, pinned_genesis=other)
    assert [f for f in report.findings if f.startswith("genesis:")] == [
        f"genesis: the export's genesis (digest {genesis.digest().hex()}) is not the pinned "
        f"one (digest {other.digest().hex()})"]


def test_an_export_without_registry_against_a_pinned_genesis_is_a_finding(
        exported: Path, witnessed: Witnessed) -> None:
    from ledger.trust.registry_files import RegistryDir

    genesis = RegistryDir(witnessed.exported / "registry").genesis()
    assert audit(exported, workers=1).genesis_digest == ""  # a keyring, no genesis
    report = audit(exported, workers=1, pinned_genesis=genesis)
    assert report.findings == ["genesis: a genesis is pinned but the export has no registry "
                               "(its keyring is not rooted in it)"]
    assert audit(exported, workers=1, keys_from_node=True).findings == [
        "no registry: keys are the node's own claim"]


@contextmanager
def _hostile(heads: object) -> Iterator[str]:
    """A node that answers every GET with `heads` (a tiny real HTTP server on loopback)."""
    import http.server
    import json
    import threading

    body = json.dumps(heads).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="hostile", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=15)


@pytest.mark.parametrize("association", ["../x", "/abs/x", "AK/../../x", "ak", "AK\n"])
def test_a_hostile_association_id_is_refused_before_any_file_is_written(
        tmp_path: Path, association: str, capsys: pytest.CaptureFixture[str]) -> None:
    from federation_api.audit.fetch import FetchError
    from federation_api.cli.main import main

    heads = {"heads": {association: 1}, "projected": {association: 1}, "digest": "0" * 64}
    out = tmp_path / "work" / "out" / "fetched"
    with _hostile(heads) as url:
        with pytest.raises(FetchError, match="is not an association id"):
            fetch(url, "token", out)
        token = tmp_path / "auditor.token"
        token.write_text("token")
        before = sorted(tmp_path.rglob("*"))
        capsys.readouterr()
        assert main(["audit", "--url", url, "--token-file", str(token)]) == 2
        assert "is not an association id" in capsys.readouterr().err
    assert not out.exists()
    assert sorted(tmp_path.rglob("*")) == before  # nothing written anywhere


def test_hostile_counts_are_refused(tmp_path: Path) -> None:
    from federation_api.audit.fetch import MAX_ENTRIES, MAX_LEDGERS, FetchError

    with _hostile({"heads": {"AK": MAX_ENTRIES + 1}}) as url, pytest.raises(
            FetchError, match="not a count"):
        fetch(url, "token", tmp_path / "a")
    many = {"".join(chr(65 + (i // 26 ** k) % 26) for k in range(3)): 1
            for i in range(MAX_LEDGERS + 1)}
    with _hostile({"heads": many}) as url, pytest.raises(FetchError, match="ledgers"):
        fetch(url, "token", tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_ledger_replayed_before_its_chain_broke_is_left_out_of_the_digest(
        exported: Path, tmp_path: Path) -> None:
    """With two cores the chain is checked in another process while the ledger is replayed;
    an edited entry is only found after its ledger was replayed, so the replay is made again
    without it: the digest is the one of a sequential audit, which never replayed it."""
    copy = _copy(exported, tmp_path)
    wires = _ledger(copy)
    index = next(i for i, w in enumerate(wires) if b"Chen" in w)
    signed = msgspec.msgpack.decode(wires[index])
    signed["body"] = signed["body"].replace(b"Chen", b"Chan")
    wires[index] = encode(signed)
    _write(copy, wires)
    pipelined, sequential = audit(copy, workers=2), audit(copy, workers=1)
    assert pipelined.findings == sequential.findings
    assert any(f.startswith("AK#") for f in pipelined.findings), pipelined.findings
    assert pipelined.digest == sequential.digest != pipelined.node_digest
    assert pipelined.replayed == sequential.replayed == 0
