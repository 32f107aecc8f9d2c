"""TOTP windows and replay, recovery codes, enrolment output, and sealed seeds."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from federation_api.accounts import totp
from federation_api.accounts.secret_box import SecretBox, SecretKeyError

NOW = dt.datetime(2026, 3, 1, 9, 0, 10, tzinfo=dt.UTC)
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
STEP = totp.step_of(NOW)


@pytest.mark.parametrize(("offset", "accepted"), [(-2, False), (-1, True), (0, True),
                                                   (1, True), (2, False)])
def test_a_code_is_accepted_one_step_either_side(offset: int, accepted: bool) -> None:
    code = totp.code_at(SECRET, STEP + offset)
    found = totp.matching_step(SECRET, code, now=NOW, after_step=None)
    assert found == (STEP + offset if accepted else None)


def test_the_rfc_6238_test_vector() -> None:
    # RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits); 6 digits are the last six.
    rfc_secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of "12345678901234567890"
    assert totp.code_at(rfc_secret, 59 // 30) == "287082"


def test_a_used_step_and_every_earlier_one_are_refused() -> None:
    code = totp.code_at(SECRET, STEP)
    assert totp.matching_step(SECRET, code, now=NOW, after_step=STEP) is None  # replay
    earlier = totp.code_at(SECRET, STEP - 1)
    assert totp.matching_step(SECRET, earlier, now=NOW, after_step=STEP) is None
    later = totp.code_at(SECRET, STEP + 1)
    assert totp.matching_step(SECRET, later, now=NOW, after_step=STEP) == STEP + 1


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12a456", "١٢٣٤٥٦"])
def test_malformed_codes_match_nothing(code: str) -> None:
    assert totp.matching_step(SECRET, code, now=NOW, after_step=None) is None


def test_spaces_in_a_typed_code_are_ignored() -> None:
    code = totp.code_at(SECRET, STEP)
    assert totp.matching_step(SECRET, f" {code[:3]} {code[3:]} ", now=NOW,
                              after_step=None) == STEP


def test_enrolment_gives_an_otpauth_uri_and_an_inline_svg_qr_code() -> None:
    secret = totp.new_secret()
    assert len(secret) == 32  # 160 bits
    uri = totp.otpauth_uri(secret, account="jane@example.org", issuer="Alaska (AK)")
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri
    assert "issuer=Alaska%20%28AK%29" in uri
    svg = totp.qr_svg(uri)
    assert svg.startswith('<svg role="img" aria-label="QR code') and "<?xml" not in svg
    assert "<title>" in svg and svg.rstrip().endswith("</svg>")
    assert totp.grouped("ABCDEFGH") == "ABCD EFGH"


def test_recovery_codes_are_random_well_formed_and_normalised() -> None:
    codes = totp.new_recovery_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    for code in codes:
        parts = code.split("-")
        assert len(parts) == 4 and all(len(p) == 4 for p in parts)
        raw = totp.normalise_recovery_code(code.upper().replace("-", " "))
        assert raw == code.replace("-", "")
    assert totp.normalise_recovery_code("abcd-efgh-ijkl-mno") is None  # too short
    assert totp.normalise_recovery_code("abcd-efgh-ijkl-mno1") is None  # 1 is not base32
    assert totp.recovery_code_hash("a" * 16) != totp.recovery_code_hash("b" * 16)


def test_a_sealed_seed_opens_only_under_its_key_and_its_context() -> None:
    box, _ = SecretBox.generate()
    sealed = box.seal(SECRET.encode(), context="totp:acc_1")
    assert SECRET.encode() not in sealed
    assert box.open(sealed, context="totp:acc_1") == SECRET.encode()
    with pytest.raises(SecretKeyError):
        box.open(sealed, context="totp:acc_2")  # copied onto another account's row
    with pytest.raises(SecretKeyError):
        SecretBox.generate()[0].open(sealed, context="totp:acc_1")  # another node's key
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SecretKeyError):
        box.open(tampered, context="totp:acc_1")
    assert box.seal(b"x", context="c") != box.seal(b"x", context="c")  # fresh nonces


def test_the_key_file_is_private_created_once_and_refused_when_others_can_read_it(
        tmp_path: Path) -> None:
    path = tmp_path / "keys" / "accounts.key"
    box = SecretBox.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600 and len(path.read_bytes()) == 32
    again = SecretBox.load_or_create(path)
    assert again.open(box.seal(b"seed", context="c"), context="c") == b"seed"
    os.chmod(path, 0o644)
    with pytest.raises(SecretKeyError, match="readable"):
        SecretBox.load(path)
    with pytest.raises(SecretKeyError):
        SecretBox.load(tmp_path / "missing.key")
