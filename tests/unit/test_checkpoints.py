"""Checkpoints, signed notes, cosignatures and witness rules (C2SP tlog-checkpoint, signed-note,
tlog-cosignature, tlog-witness)."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import ChainBroken, CheckpointError, VerificationError
from ledger.signing import Signer, Verifier
from ledger.transparency.checkpoints import (
    COSIGNATURE_V1,
    MAX_TREE_SIZE,
    Checkpoint,
    add_cosignature,
    cosign,
    cosignatures,
    is_witnessed,
    open_checkpoint,
    parse_body,
    verify_cosignature,
)
from ledger.transparency.merkle import consistency_proof, leaf_hash, root, verify_consistency
from ledger.transparency.notes import (
    ED25519,
    MAX_SIGNATURES,
    add_signature,
    append_signature_lines,
    is_valid_key_name,
    key_id,
    open_note,
    parse_note,
    sign_note,
)
from ledger.transparency.witness_rules import (
    CheckpointAccepted,
    CheckpointRefused,
    ConsistencyCheck,
    Refusal,
    WitnessState,
    next_checkpoint_allowed,
    witness,
)

# -- known answers: golang.org/x/mod/sumdb/note tests and the C2SP spec examples ---------------

GO_TEXT = (b"If you think cryptography is the answer to your problem,\n"
           b"then you don't know what your problem is.\n")
GO_PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
# The signer key "PRIVATE+KEY+PeterNeumann+c74f20a3+<0x01 || seed>" of the same tests.
GO_PETER_SEED_B64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_PETER_SIG = ("— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvq"
                "fqdngotpRZb6KE6RyyBwJnAM=\n").encode()
GO_ENOCH_SIG = ("— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovT"
                "G01oOTGwnWLox33WWd1RvMc+QQ=\n").encode()
GO_NOTE = GO_TEXT + b"\n" + GO_PETER_SIG
# transparency-dev/formats: a native Ed25519 cosignature/v1 (type 0x04) verifier key.
REMORA_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"

SPEC_CHECKPOINT_BODY = (b"example.com/behind-the-sofa\n20852163\n"
                        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")
SPEC_COSIGNED_NOTE = SPEC_CHECKPOINT_BODY + (
    "\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
    "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2"
    "oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n").encode()
SPEC_POEM_NOTE = (
    "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    "\n— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouF"
    "SQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n").encode()


def vkey_parts(vkey: str) -> tuple[str, bytes, int, bytes]:
    """(name, key ID, signature type, public key) of a `name+hash+base64(type||key)` string."""
    name, key_hash, encoded = vkey.split("+", 2)
    material = base64.b64decode(encoded)
    return name, bytes.fromhex(key_hash), material[0], material[1:]


PETER, PETER_ID, _, PETER_KEY = vkey_parts(GO_PETER_VKEY)
ENOCH, ENOCH_ID, _, ENOCH_KEY = vkey_parts(GO_ENOCH_VKEY)


@pytest.fixture(scope="module")
def peter_signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    """The Go tests' PeterNeumann key, loaded through ledger.signing from a PKCS#8 file."""
    seed = base64.b64decode(GO_PETER_SEED_B64)[1:]
    # PKCS#8 PrivateKeyInfo for Ed25519 (RFC 8410) is a fixed prefix followed by the seed.
    der = bytes.fromhex("302e020100300506032b657004220420") + seed
    pem = (b"-----BEGIN PRIVATE KEY-----\n" + base64.encodebytes(der)
           + b"-----END PRIVATE KEY-----\n")
    path: Path = tmp_path_factory.mktemp("keys") / "peter.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return Signer.load(path)


@pytest.mark.parametrize("vkey", [GO_PETER_VKEY, GO_ENOCH_VKEY, REMORA_VKEY])
def test_key_id_matches_published_verifier_keys(vkey: str) -> None:
    name, expected, signature_type, public_key = vkey_parts(vkey)
    assert key_id(name, signature_type, public_key) == expected


def test_remora_key_is_a_cosignature_key() -> None:
    name, expected, signature_type, public_key = vkey_parts(REMORA_VKEY)
    assert signature_type == COSIGNATURE_V1
    assert key_id(name, ED25519, public_key) != expected  # the type byte separates the two


def test_sign_note_reproduces_the_go_signed_note(peter_signer: Signer) -> None:
    assert peter_signer.public_key == PETER_KEY
    assert sign_note(GO_TEXT, PETER, peter_signer) == GO_NOTE


def test_open_note_verifies_the_go_notes() -> None:
    both = GO_TEXT + b"\n" + GO_PETER_SIG + GO_ENOCH_SIG
    assert open_note(both, {PETER: PETER_KEY}) == (GO_TEXT, [PETER])
    assert open_note(both, {ENOCH: ENOCH_KEY}) == (GO_TEXT, [ENOCH])
    assert open_note(both, {PETER: PETER_KEY, ENOCH: ENOCH_KEY}) == (GO_TEXT, [PETER, ENOCH])
    with pytest.raises(CheckpointError, match="no signature from a known key"):
        open_note(both, {})


def test_go_corrupted_signature_is_rejected() -> None:
    sig = GO_PETER_SIG.decode()
    corrupted = GO_TEXT + b"\n" + (sig[:60] + "ABCD" + sig[60:]).encode()
    with pytest.raises(CheckpointError):
        open_note(corrupted, {PETER: PETER_KEY})


def test_spec_checkpoint_example_parses_and_round_trips() -> None:
    checkpoint = parse_body(SPEC_CHECKPOINT_BODY)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.extensions == ()
    assert checkpoint.body() == SPEC_CHECKPOINT_BODY


def test_spec_cosignature_example_carries_the_specs_timestamp() -> None:
    note = parse_note(SPEC_COSIGNED_NOTE)
    assert note.text == SPEC_CHECKPOINT_BODY
    log_sig, witness_sig = note.signatures
    assert log_sig.name == "example.com/behind-the-sofa"
    assert witness_sig.name == "witness.example.com/w1"
    assert len(witness_sig.signature) == 8 + 64  # timestamp || Ed25519 signature
    # The spec's signed-message example is "time 1679315147", the timestamp of this line.
    assert int.from_bytes(witness_sig.signature[:8], "big") == 1679315147
    assert [s.line() for s in note.signatures] == SPEC_COSIGNED_NOTE.split(b"\n\n")[1].splitlines(
        keepends=True)


def test_spec_note_text_ends_at_the_last_blank_line() -> None:
    note = parse_note(SPEC_POEM_NOTE)
    assert note.text.endswith(b"\n\ned \xc3\xa8 subito sera.\n")
    assert [s.name for s in note.signatures] == ["quasimodo.example/salvatore"]


# -- checkpoint bodies ---------------------------------------------------------------------------

ROOT = hashlib.sha256(b"root").digest()
ROOT_B64 = base64.b64encode(ROOT).decode()


def body_of(*lines: str) -> bytes:
    return "".join(line + "\n" for line in lines).encode()


def test_body_is_the_tlog_checkpoint_text() -> None:
    checkpoint = Checkpoint("alliance.example/AK", 42, ROOT, ("ext one", "ext-two"))
    assert checkpoint.body() == body_of("alliance.example/AK", "42", ROOT_B64, "ext one",
                                        "ext-two")
    assert parse_body(checkpoint.body()) == checkpoint


def test_empty_tree_size_is_zero() -> None:
    assert Checkpoint("o", 0, ROOT).body().split(b"\n")[1] == b"0"
    assert parse_body(body_of("o", "0", ROOT_B64)).size == 0


NON_CANONICAL_BODIES = {
    "leading zero": body_of("o", "042", ROOT_B64),
    "zero with leading zero": body_of("o", "00", ROOT_B64),
    "plus sign": body_of("o", "+42", ROOT_B64),
    "minus sign": body_of("o", "-1", ROOT_B64),
    "space before size": body_of("o", " 42", ROOT_B64),
    "underscore in size": body_of("o", "4_2", ROOT_B64),
    "arabic-indic digits": body_of("o", "٤٢", ROOT_B64),
    "size above uint64": body_of("o", str(MAX_TREE_SIZE + 1), ROOT_B64),
    "huge size": body_of("o", "9" * 5000, ROOT_B64),
    "empty size": body_of("o", "", ROOT_B64),
    "empty origin": body_of("", "42", ROOT_B64),
    "two lines": body_of("o", "42"),
    "no final newline": body_of("o", "42", ROOT_B64)[:-1],
    "empty extension line": body_of("o", "42", ROOT_B64, ""),
    "empty line between extensions": body_of("o", "42", ROOT_B64, "a", "", "b"),
    "crlf line ends": b"o\r\n42\r\n" + ROOT_B64.encode() + b"\r\n",
    "root not padded": body_of("o", "42", ROOT_B64.rstrip("=")),
    "root with nonzero padding bits": body_of("o", "42", ROOT_B64[:-2] + "J="),
    "root url-safe alphabet": body_of("o", "42", base64.urlsafe_b64encode(b"\xfb" * 32).decode()),
    "root with space": body_of("o", "42", ROOT_B64[:10] + " " + ROOT_B64[10:]),
    "root of 31 bytes": body_of("o", "42", base64.b64encode(ROOT[:31]).decode()),
    "root of 33 bytes": body_of("o", "42", base64.b64encode(ROOT + b"\0").decode()),
    "root in hex": body_of("o", "42", ROOT.hex()),
    "invalid utf-8": b"\xff\n42\n" + ROOT_B64.encode() + b"\n",
    "tab in origin": body_of("o\tx", "42", ROOT_B64),
    "nul in extension": body_of("o", "42", ROOT_B64, "a\0b"),
    "empty body": b"",
}


@pytest.mark.parametrize("body", NON_CANONICAL_BODIES.values(), ids=NON_CANONICAL_BODIES.keys())
def test_parse_body_rejects_non_canonical_bodies(body: bytes) -> None:
    with pytest.raises(CheckpointError):
        parse_body(body)


@pytest.mark.parametrize(("origin", "size", "root", "extensions"), [
    ("", 1, ROOT, ()),
    ("a\nb", 1, ROOT, ()),
    ("o", -1, ROOT, ()),
    ("o", MAX_TREE_SIZE + 1, ROOT, ()),
    ("o", 1, ROOT[:31], ()),
    ("o", 1, ROOT, ("",)),
    ("o", 1, ROOT, ("two\nlines",)),
    ("\ud800", 1, ROOT, ()),
], ids=["empty origin", "newline in origin", "negative size", "size above uint64",
        "short root", "empty extension", "newline in extension", "lone surrogate"])
def test_invalid_checkpoints_cannot_be_built(origin: str, size: int, root: bytes,
                                             extensions: tuple[str, ...]) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint(origin, size, root, extensions)


# Lines: no control characters but anything else, including U+2028 that str.splitlines splits on.
LINE = st.text(st.characters(codec="utf-8", exclude_characters=[chr(c) for c in range(0x20)]),
               min_size=1, max_size=40)
CHECKPOINTS = st.builds(Checkpoint, LINE, st.integers(0, MAX_TREE_SIZE),
                        st.binary(min_size=32, max_size=32), st.lists(LINE, max_size=3).map(tuple))


@given(CHECKPOINTS)
def test_body_round_trips(checkpoint: Checkpoint) -> None:
    assert parse_body(checkpoint.body()) == checkpoint


@given(st.one_of(st.binary(max_size=120),
                 CHECKPOINTS.map(lambda c: c.body()).flatmap(
                     lambda b: st.integers(0, len(b) - 1).map(
                         lambda i: b[:i] + bytes([b[i] ^ 0x20]) + b[i + 1:]))))
def test_any_body_that_parses_is_canonical(body: bytes) -> None:
    try:
        checkpoint = parse_body(body)
    except CheckpointError:
        return
    assert checkpoint.body() == body


# -- signed notes --------------------------------------------------------------------------------

LOG = Signer.generate()
LOG_NAME = "alliance.example/AK"
OTHER = Signer.generate()
CHECKPOINT = Checkpoint(LOG_NAME, 7, ROOT)
BODY = CHECKPOINT.body()


def test_note_signature_is_ed25519_over_the_text_with_the_spec_key_id() -> None:
    note = sign_note(BODY, LOG_NAME, LOG)
    text, block = note.split(b"\n\n")
    assert text + b"\n" == BODY
    dash, name, encoded = block.decode().rstrip("\n").split(" ")
    assert (dash, name) == ("—", LOG_NAME)
    raw = base64.b64decode(encoded)
    expected_id = hashlib.sha256(LOG_NAME.encode() + b"\n\x01" + LOG.public_key).digest()[:4]
    assert raw[:4] == expected_id
    Verifier(LOG.public_key).verify(raw[4:], BODY)


def test_sign_and_open_round_trip() -> None:
    note = sign_note(BODY, LOG_NAME, LOG)
    assert open_note(note, {LOG_NAME: LOG.public_key}) == (BODY, [LOG_NAME])
    assert open_checkpoint(note, {LOG_NAME: LOG.public_key}) == CHECKPOINT


def test_add_signature_adds_a_second_signer_and_replaces_its_own() -> None:
    note = add_signature(sign_note(BODY, LOG_NAME, LOG), "peer.example/B", OTHER)
    keys = {LOG_NAME: LOG.public_key, "peer.example/B": OTHER.public_key}
    assert open_note(note, keys) == (BODY, [LOG_NAME, "peer.example/B"])
    assert add_signature(note, "peer.example/B", OTHER) == note
    assert len(parse_note(note).signatures) == 2


def test_unknown_signers_are_ignored_but_one_known_signature_is_required() -> None:
    note = add_signature(sign_note(BODY, "stranger.example/X", OTHER), LOG_NAME, LOG)
    assert open_note(note, {LOG_NAME: LOG.public_key})[1] == [LOG_NAME]
    with pytest.raises(CheckpointError, match="no signature from a known key"):
        open_note(sign_note(BODY, "stranger.example/X", OTHER), {LOG_NAME: LOG.public_key})


def test_same_name_with_another_key_is_an_unknown_key() -> None:
    impostor = sign_note(BODY, LOG_NAME, OTHER)
    with pytest.raises(CheckpointError, match="no signature from a known key"):
        open_note(impostor, {LOG_NAME: LOG.public_key})
    both = add_signature(impostor, LOG_NAME, LOG)
    assert open_note(both, {LOG_NAME: LOG.public_key})[1] == [LOG_NAME]


def test_a_failing_signature_from_a_known_key_rejects_the_note() -> None:
    good = sign_note(BODY, LOG_NAME, LOG)
    forged_sig = OTHER.sign(BODY)
    forged_line = ("— " + LOG_NAME + " " + base64.b64encode(
        key_id(LOG_NAME, ED25519, LOG.public_key) + forged_sig).decode() + "\n").encode()
    with pytest.raises(CheckpointError, match="does not verify"):
        open_note(good + forged_line, {LOG_NAME: LOG.public_key})


def test_repeated_signature_line_names_the_signer_once() -> None:
    note = sign_note(BODY, LOG_NAME, LOG)
    line = note.split(b"\n\n")[1]
    assert open_note(note + line, {LOG_NAME: LOG.public_key})[1] == [LOG_NAME]


def test_note_text_may_contain_blank_lines() -> None:
    text = b"first\n\nthird\n\n"
    note = sign_note(text, LOG_NAME, LOG)
    assert open_note(note, {LOG_NAME: LOG.public_key})[0] == text


GOOD = sign_note(BODY, LOG_NAME, LOG)
GOOD_LINE = GOOD.split(b"\n\n")[1]
GOOD_B64 = GOOD_LINE.decode().split(" ")[2].rstrip("\n")

MALFORMED_NOTES = {
    "text only": BODY,
    "no blank line": BODY + GOOD_LINE,
    "blank line but no signatures": BODY + b"\n",
    "last line without newline": GOOD[:-1],
    "trailing blank line": GOOD + b"\n",
    "unexpected line after signatures": GOOD + b"Unexpected line.\n",
    "hyphen instead of em dash": GOOD.replace("—".encode(), b"-"),
    "no space after em dash": GOOD.replace("— ".encode(), "—".encode()),
    "two spaces after name": GOOD.replace(f"{LOG_NAME} ".encode(), f"{LOG_NAME}  ".encode()),
    "space in name": BODY + b"\n" + GOOD_LINE.replace(b"alliance.example", b"alliance example"),
    "plus in name": BODY + b"\n" + GOOD_LINE.replace(b"alliance.example", b"alliance+example"),
    "no-break space in name": BODY + b"\n" + GOOD_LINE.replace(
        b"alliance.example", "alliance\u00a0example".encode()),
    "empty name": BODY + b"\n" + f"—  {GOOD_B64}\n".encode(),
    "no signature after name": BODY + b"\n" + f"— {LOG_NAME}\n".encode(),
    "empty signature": BODY + b"\n" + f"— {LOG_NAME} \n".encode(),
    "bad base64": BODY + b"\n" + f"— {LOG_NAME} !!!!{GOOD_B64[4:]}\n".encode(),
    "unpadded base64": BODY + b"\n" + f"— {LOG_NAME} {GOOD_B64.rstrip('=')}\n".encode(),
    "signature of only a key id": BODY + b"\n" + f"— {LOG_NAME} AAAAAA==\n".encode(),
    "invalid utf-8 in text": b"\xc3(" + GOOD,
    "invalid utf-8 in line": BODY + b"\n" + GOOD_LINE.replace(b"alliance", b"alli\xffance"),
    "nul in text": b"\x00" + GOOD,
    "carriage return line ends": GOOD.replace(b"\n", b"\r\n"),
    "tab in text": b"a\tb\n" + GOOD,
    "too many signatures": BODY + b"\n" + GOOD_LINE * (MAX_SIGNATURES + 1),
    "empty": b"",
}


@pytest.mark.parametrize("note", MALFORMED_NOTES.values(), ids=MALFORMED_NOTES.keys())
def test_malformed_notes_are_rejected(note: bytes) -> None:
    with pytest.raises(CheckpointError):
        open_note(note, {LOG_NAME: LOG.public_key})


def test_the_signature_bound_still_accepts_sixteen_signatures() -> None:
    note = GOOD + GOOD_LINE * 15
    assert open_note(note, {LOG_NAME: LOG.public_key})[1] == [LOG_NAME]


@pytest.mark.parametrize("text", [b"", b"no final newline", b"\xff\n", b"a\rb\n"])
def test_sign_note_refuses_text_that_is_not_a_note_text(text: bytes) -> None:
    with pytest.raises(CheckpointError):
        sign_note(text, LOG_NAME, LOG)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\tb", "a\u2003b", "a\nb"])
def test_invalid_key_names_are_refused_for_signing(name: str) -> None:
    assert not is_valid_key_name(name)
    with pytest.raises(ValueError, match="key name"):
        sign_note(BODY, name, LOG)
    with pytest.raises(ValueError, match="key name"):
        cosign(BODY, name, LOG, 1)


def test_a_misconfigured_public_key_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="32 raw bytes"):
        open_note(GOOD, {LOG_NAME: LOG.public_key[:31]})


@settings(max_examples=300)
@given(st.data())
def test_every_single_byte_change_to_a_signed_note_is_rejected(data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(GOOD) - 1))
    flip = data.draw(st.integers(1, 255))
    mutated = GOOD[:index] + bytes([GOOD[index] ^ flip]) + GOOD[index + 1:]
    with pytest.raises(CheckpointError):
        open_note(mutated, {LOG_NAME: LOG.public_key})


def test_every_truncation_of_a_signed_note_is_rejected() -> None:
    for end in range(len(GOOD)):
        with pytest.raises(CheckpointError):
            open_note(GOOD[:end], {LOG_NAME: LOG.public_key})


NOTE_TEXTS = st.text(st.characters(codec="utf-8", exclude_characters=[
    chr(c) for c in range(0x20) if c != 0x0A]), max_size=60).map(lambda t: (t + "\n").encode())


@given(NOTE_TEXTS)
def test_any_note_text_round_trips(text: bytes) -> None:
    note = sign_note(text, LOG_NAME, LOG)
    assert open_note(note, {LOG_NAME: LOG.public_key}) == (text, [LOG_NAME])
    assert parse_note(note).text == text


# -- cosignatures --------------------------------------------------------------------------------

W1, W2, W3 = Signer.generate(), Signer.generate(), Signer.generate()
WITNESSES = {"w1.example/w": W1.public_key, "w2.example/w": W2.public_key,
             "w3.example/w": W3.public_key}
T = 1_767_225_600  # 2026-01-01T00:00:00Z


def test_cosignature_is_timestamped_ed25519_over_the_v1_message() -> None:
    line = cosign(BODY, "w1.example/w", W1, T)
    dash, name, encoded = line.decode().rstrip("\n").split(" ")
    assert (dash, name) == ("—", "w1.example/w")
    raw = base64.b64decode(encoded)
    expected_id = hashlib.sha256(b"w1.example/w\n\x04" + W1.public_key).digest()[:4]
    assert raw[:4] == expected_id
    assert raw[4:12] == T.to_bytes(8, "big")
    message = b"cosignature/v1\ntime 1767225600\n" + BODY
    Verifier(W1.public_key).verify(raw[12:], message)


def test_cosignature_verifies_and_returns_its_timestamp() -> None:
    assert verify_cosignature(BODY, cosign(BODY, "w1.example/w", W1, T), "w1.example/w",
                              W1.public_key) == T
    assert verify_cosignature(BODY, cosign(BODY, "w1.example/w", W1, 0), "w1.example/w",
                              W1.public_key) == 0


def test_cosignature_covers_the_body_including_extension_lines() -> None:
    extended = Checkpoint(LOG_NAME, 7, ROOT, ("ext",)).body()
    line = cosign(extended, "w1.example/w", W1, T)
    for other in (BODY, Checkpoint(LOG_NAME, 8, ROOT).body(),
                  Checkpoint(LOG_NAME, 7, ROOT, ("exu",)).body()):
        with pytest.raises(CheckpointError, match="does not verify"):
            verify_cosignature(other, line, "w1.example/w", W1.public_key)


def test_cosignature_timestamp_is_signed() -> None:
    raw = bytearray(base64.b64decode(cosign(BODY, "w1.example/w", W1, T).split(b" ")[2]))
    raw[11] ^= 1
    line = f"— w1.example/w {base64.b64encode(bytes(raw)).decode()}\n".encode()
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_cosignature(BODY, line, "w1.example/w", W1.public_key)


def test_cosignature_is_bound_to_its_key_and_name() -> None:
    line = cosign(BODY, "w1.example/w", W1, T)
    with pytest.raises(CheckpointError, match="not a cosignature"):
        verify_cosignature(BODY, line, "w1.example/w", W2.public_key)
    with pytest.raises(CheckpointError, match="not a cosignature"):
        verify_cosignature(BODY, line, "w2.example/w", W1.public_key)


def test_note_signatures_and_cosignatures_do_not_stand_in_for_each_other() -> None:
    cosigned_only = BODY + b"\n" + cosign(BODY, LOG_NAME, LOG, T)
    with pytest.raises(CheckpointError, match="no signature from a known key"):
        open_note(cosigned_only, {LOG_NAME: LOG.public_key})
    assert cosignatures(sign_note(BODY, "w1.example/w", W1), WITNESSES) == {}


@pytest.mark.parametrize("timestamp", [-1, 2**63])
def test_cosign_refuses_timestamps_outside_the_spec_range(timestamp: int) -> None:
    with pytest.raises(ValueError, match="timestamp"):
        cosign(BODY, "w1.example/w", W1, timestamp)


def test_cosign_refuses_a_body_that_is_not_a_checkpoint() -> None:
    with pytest.raises(CheckpointError):
        cosign(b"just a note\n", "w1.example/w", W1, T)


@pytest.mark.parametrize("line", [b"", b"no dash\n", b"\xe2\x80\x94 w1.example/w AAAA\n",
                                  cosign(BODY, "w1.example/w", W1, T)[:-1],
                                  cosign(BODY, "w1.example/w", W1, T) * 2])
def test_verify_cosignature_rejects_malformed_lines(line: bytes) -> None:
    with pytest.raises(CheckpointError):
        verify_cosignature(BODY, line, "w1.example/w", W1.public_key)


def test_cosignature_with_a_timestamp_above_2_63_is_rejected() -> None:
    fake = (2**63).to_bytes(8, "big") + bytes(64)
    line = ("— w1.example/w " + base64.b64encode(
        key_id("w1.example/w", COSIGNATURE_V1, W1.public_key) + fake).decode() + "\n").encode()
    with pytest.raises(CheckpointError, match="2\\^63"):
        verify_cosignature(BODY, line, "w1.example/w", W1.public_key)


def witnessed_note(*cosigners: tuple[str, Signer, int]) -> bytes:
    note = sign_note(BODY, LOG_NAME, LOG)
    for name, signer, timestamp in cosigners:
        note = add_cosignature(note, name, signer, timestamp)
    return note


def test_cosignatures_lists_each_witness_with_its_latest_timestamp() -> None:
    note = witnessed_note(("w1.example/w", W1, T), ("w2.example/w", W2, T + 5),
                          ("w1.example/w", W1, T + 9))
    assert cosignatures(note, WITNESSES) == {"w1.example/w": T + 9, "w2.example/w": T + 5}
    assert open_note(note, {LOG_NAME: LOG.public_key}) == (BODY, [LOG_NAME])


def test_quorum_counts_distinct_witnesses() -> None:
    note = witnessed_note(("w1.example/w", W1, T), ("w2.example/w", W2, T))
    assert is_witnessed(note, WITNESSES, 1)
    assert is_witnessed(note, WITNESSES, 2)
    assert not is_witnessed(note, WITNESSES, 3)


def test_quorum_counts_a_repeated_cosignature_once() -> None:
    line = cosign(BODY, "w1.example/w", W1, T)
    note = append_signature_lines(sign_note(BODY, LOG_NAME, LOG), [line, line, line])
    assert is_witnessed(note, WITNESSES, 1)
    assert not is_witnessed(note, WITNESSES, 2)
    two_times = witnessed_note(("w1.example/w", W1, T), ("w1.example/w", W1, T + 1))
    assert not is_witnessed(two_times, WITNESSES, 2)


def test_quorum_counts_one_key_under_two_names_once() -> None:
    # A v1 cosignature does not sign the witness name: anyone can relabel w1's line as "alias".
    raw = base64.b64decode(cosign(BODY, "w1.example/w", W1, T).split(b" ")[2])
    relabelled = ("— alias.example/w " + base64.b64encode(
        key_id("alias.example/w", COSIGNATURE_V1, W1.public_key) + raw[4:]).decode()
        + "\n").encode()
    note = append_signature_lines(witnessed_note(("w1.example/w", W1, T)), [relabelled])
    keys = {"w1.example/w": W1.public_key, "alias.example/w": W1.public_key}
    assert set(cosignatures(note, keys)) == {"w1.example/w", "alias.example/w"}
    assert not is_witnessed(note, keys, 2)


def test_quorum_ignores_non_members() -> None:
    outsider = Signer.generate()
    note = witnessed_note(("w1.example/w", W1, T), ("outsider.example/w", outsider, T),
                          ("w2.example/w", W3, T))  # a member's name with a non-member's key
    assert cosignatures(note, WITNESSES) == {"w1.example/w": T}
    assert not is_witnessed(note, WITNESSES, 2)


def test_a_failing_cosignature_from_a_member_rejects_the_note() -> None:
    raw = bytearray(base64.b64decode(cosign(BODY, "w2.example/w", W2, T).split(b" ")[2]))
    raw[-1] ^= 1
    bad = f"— w2.example/w {base64.b64encode(bytes(raw)).decode()}\n".encode()
    note = append_signature_lines(witnessed_note(("w1.example/w", W1, T)), [bad])
    with pytest.raises(CheckpointError, match="does not verify"):
        is_witnessed(note, WITNESSES, 1)


def test_cosignatures_over_another_checkpoint_do_not_count() -> None:
    other_body = Checkpoint(LOG_NAME, 8, ROOT).body()
    moved = cosign(other_body, "w1.example/w", W1, T)
    with pytest.raises(CheckpointError, match="does not verify"):
        is_witnessed(append_signature_lines(GOOD, [moved]), WITNESSES, 1)


def test_quorum_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="quorum"):
        is_witnessed(witnessed_note(("w1.example/w", W1, T)), WITNESSES, 0)


def test_append_signature_lines_refuses_malformed_lines() -> None:
    with pytest.raises(CheckpointError):
        append_signature_lines(GOOD, [b"not a signature line\n"])
    with pytest.raises(CheckpointError):
        append_signature_lines(GOOD, [GOOD_LINE] * MAX_SIGNATURES)


# -- witnessing ----------------------------------------------------------------------------------

LOG_KEYS = {LOG_NAME: LOG.public_key}
ROOT_7, ROOT_9, ROOT_9B = (hashlib.sha256(x).digest() for x in (b"7", b"9", b"9b"))


class ConsistencyRecorder:
    """Stands in for the Merkle proof check: answers `result` and records what it was asked."""

    def __init__(self, result: bool = True, error: VerificationError | None = None) -> None:
        self.result = result
        self.error = error
        self.calls: list[tuple[int, bytes, int, bytes]] = []

    def __call__(self, old_size: int, old_root: bytes, new_size: int, new_root: bytes) -> bool:
        self.calls.append((old_size, old_root, new_size, new_root))
        if self.error is not None:
            raise self.error
        return self.result


def log_note(size: int, root: bytes, signer: Signer = LOG, origin: str = LOG_NAME) -> bytes:
    return sign_note(Checkpoint(origin, size, root).body(), origin, signer)


COSIGNED_7 = WitnessState(LOG_NAME, 7, ROOT_7)


def test_first_checkpoint_is_accepted_without_a_proof() -> None:
    check = ConsistencyRecorder(result=False)
    decision = witness(WitnessState(LOG_NAME), log_note(9, ROOT_9), LOG_KEYS, check)
    assert decision == CheckpointAccepted(Checkpoint(LOG_NAME, 9, ROOT_9),
                                          WitnessState(LOG_NAME, 9, ROOT_9))
    assert check.calls == []


def test_a_consistent_larger_checkpoint_is_accepted_and_becomes_the_state() -> None:
    check = ConsistencyRecorder(result=True)
    decision = witness(COSIGNED_7, log_note(9, ROOT_9), LOG_KEYS, check)
    assert isinstance(decision, CheckpointAccepted)
    assert decision.state == WitnessState(LOG_NAME, 9, ROOT_9)
    assert check.calls == [(7, ROOT_7, 9, ROOT_9)]


def test_the_same_checkpoint_again_is_accepted_without_a_proof() -> None:
    check = ConsistencyRecorder(result=False)
    decision = witness(COSIGNED_7, log_note(7, ROOT_7), LOG_KEYS, check)
    assert isinstance(decision, CheckpointAccepted)
    assert decision.state == COSIGNED_7
    assert check.calls == []


def test_growth_from_an_empty_cosigned_tree_needs_no_proof() -> None:
    check = ConsistencyRecorder(result=False)
    empty = WitnessState(LOG_NAME, 0, hashlib.sha256(b"").digest())
    assert isinstance(witness(empty, log_note(9, ROOT_9), LOG_KEYS, check), CheckpointAccepted)
    assert check.calls == []


REFUSALS = {
    "rollback": (log_note(6, ROOT_9), ConsistencyRecorder(), Refusal.ROLLBACK),
    "fork at the same size": (log_note(7, ROOT_9B), ConsistencyRecorder(), Refusal.FORK),
    "inconsistent": (log_note(9, ROOT_9), ConsistencyRecorder(result=False),
                     Refusal.INCONSISTENT),
    "proof check raises": (log_note(9, ROOT_9), ConsistencyRecorder(
        error=ChainBroken("proof does not verify")), Refusal.INCONSISTENT),
    "signed by another key": (log_note(9, ROOT_9, signer=OTHER), ConsistencyRecorder(),
                              Refusal.BAD_SIGNATURE),
    "forged log signature": (log_note(9, ROOT_9)[:-6] + b"AAAA=\n", ConsistencyRecorder(),
                             Refusal.BAD_SIGNATURE),
    "cosigned only": (BODY + b"\n" + cosign(BODY, LOG_NAME, LOG, T), ConsistencyRecorder(),
                      Refusal.BAD_SIGNATURE),
    "another origin": (sign_note(Checkpoint("other.example/X", 9, ROOT_9).body(), LOG_NAME, LOG),
                       ConsistencyRecorder(), Refusal.WRONG_ORIGIN),
    "unsigned": (Checkpoint(LOG_NAME, 9, ROOT_9).body(), ConsistencyRecorder(),
                 Refusal.MALFORMED),
    "signed text that is no checkpoint": (sign_note(b"hello\n", LOG_NAME, LOG),
                                          ConsistencyRecorder(), Refusal.MALFORMED),
    "garbage": (b"\xff\xfe", ConsistencyRecorder(), Refusal.MALFORMED),
}


@pytest.mark.parametrize(("note", "check", "reason"), REFUSALS.values(), ids=REFUSALS.keys())
def test_witness_refuses_and_keeps_the_note_as_evidence(
        note: bytes, check: ConsistencyRecorder, reason: Refusal) -> None:
    decision = witness(COSIGNED_7, note, LOG_KEYS, check)
    assert isinstance(decision, CheckpointRefused)
    assert decision.reason is reason
    assert decision.evidence == note
    assert decision.detail


def test_witness_accepts_a_checkpoint_that_also_carries_other_signatures() -> None:
    note = add_cosignature(add_signature(log_note(9, ROOT_9), "x.example/y", OTHER),
                           "w1.example/w", W1, T)
    assert isinstance(witness(COSIGNED_7, note, LOG_KEYS, ConsistencyRecorder()),
                      CheckpointAccepted)


def test_accepted_then_cosigned_checkpoint_reaches_a_quorum() -> None:
    note = log_note(9, ROOT_9)
    lines = []
    for name, signer in (("w1.example/w", W1), ("w2.example/w", W2)):
        decision = witness(COSIGNED_7, note, LOG_KEYS, ConsistencyRecorder())
        assert isinstance(decision, CheckpointAccepted)
        lines.append(cosign(decision.checkpoint.body(), name, signer, T))
    witnessed = append_signature_lines(note, lines)
    assert open_checkpoint(witnessed, LOG_KEYS) == Checkpoint(LOG_NAME, 9, ROOT_9)
    assert is_witnessed(witnessed, WITNESSES, 2)


def proof_check(proof: list[bytes]) -> ConsistencyCheck:
    """The consistency callback a node builds from a log's proof, with the Merkle module."""
    def check(old_size: int, old_root: bytes, new_size: int, new_root: bytes) -> bool:
        verify_consistency(old_size, new_size, old_root, new_root, proof)
        return True
    return check


def test_witness_with_real_merkle_proofs_accepts_growth_and_refuses_a_rewritten_history() -> None:
    leaves = [leaf_hash(b"entry %d" % i) for i in range(12)]
    rewritten = [*leaves[:3], leaf_hash(b"forged"), *leaves[4:]]
    state = WitnessState(LOG_NAME, 5, root(leaves[:5]))
    grown = witness(state, log_note(12, root(leaves)), LOG_KEYS,
                    proof_check(consistency_proof(leaves, 5)))
    assert isinstance(grown, CheckpointAccepted)
    assert grown.state == WitnessState(LOG_NAME, 12, root(leaves))
    forged = witness(state, log_note(12, root(rewritten)), LOG_KEYS,
                     proof_check(consistency_proof(rewritten, 5)))
    assert isinstance(forged, CheckpointRefused)
    assert forged.reason is Refusal.INCONSISTENT
    assert "old root" in forged.detail


@pytest.mark.parametrize(("origin", "size", "root_hash"), [
    (LOG_NAME, 3, None), ("", 0, None), (LOG_NAME, 1, ROOT[:5])])
def test_invalid_witness_states_cannot_be_built(origin: str, size: int,
                                                root_hash: bytes | None) -> None:
    with pytest.raises(CheckpointError):
        WitnessState(origin, size, root_hash)


# -- the log's guard -----------------------------------------------------------------------------

SIGNED_7 = Checkpoint(LOG_NAME, 7, ROOT_7)


@pytest.mark.parametrize(("new", "consistent"), [
    (Checkpoint(LOG_NAME, 9, ROOT_9), True),
    (Checkpoint(LOG_NAME, 7, ROOT_7), False),  # re-signing the same tree needs no proof
    (Checkpoint(LOG_NAME, 7, ROOT_7, ("ext",)), True),
])
def test_log_may_sign_a_checkpoint_that_extends_the_last(new: Checkpoint,
                                                         consistent: bool) -> None:
    next_checkpoint_allowed(SIGNED_7, new, consistent)


def test_log_may_sign_its_first_checkpoint() -> None:
    next_checkpoint_allowed(None, SIGNED_7, consistent=False)


@pytest.mark.parametrize(("new", "consistent", "message"), [
    (Checkpoint(LOG_NAME, 6, ROOT_9), True, "below"),
    (Checkpoint(LOG_NAME, 7, ROOT_9B), True, "another root"),
    (Checkpoint(LOG_NAME, 9, ROOT_9), False, "not consistent"),
    (Checkpoint("other.example/X", 9, ROOT_9), True, "origin"),
], ids=["smaller", "same size other root", "inconsistent", "other origin"])
def test_log_never_signs_a_checkpoint_that_contradicts_the_last(
        new: Checkpoint, consistent: bool, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        next_checkpoint_allowed(SIGNED_7, new, consistent)
