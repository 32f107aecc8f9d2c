"""The settings issue 13 adds (TLS files, the signing key's place), from env and flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from federation_api.cli.main import _settings, build_parser
from federation_api.settings import Settings

URI = "pkcs11:token=alliance;object=ak?pin-source=file:/run/credentials/x/token.pin"


def test_tls_and_signing_key_from_the_environment() -> None:
    settings = Settings.from_env({"ALLIANCE_TLS_CERT": "tls/node.crt",
                                  "ALLIANCE_TLS_KEY": "tls/node.key",
                                  "ALLIANCE_SIGNING_KEY": URI})
    assert (settings.tls_cert, settings.tls_key) == (Path("tls/node.crt"), Path("tls/node.key"))
    assert settings.signing_key == URI
    assert Settings.from_env({}).signing_key is None  # the key file, the embedded default


def test_serve_flags_override_the_environment() -> None:
    args = build_parser().parse_args(["serve", "--tls-cert", "a.crt", "--tls-key", "a.key",
                                      "--trusted-proxies", "10.0.0.2, 192.168.0.0/24"])
    settings = _settings(args)
    assert (settings.tls_cert, settings.tls_key) == (Path("a.crt"), Path("a.key"))
    assert settings.rate_limits.trusted_proxies == ("10.0.0.2", "192.168.0.0/24")


def test_every_new_command_has_help() -> None:
    parser = build_parser()
    for argv in (["lapses", "record", "--help"], ["keys", "token", "generate", "--help"],
                 ["keys", "token", "import", "--help"], ["keys", "token", "show", "--help"],
                 ["keys", "token", "rotate", "--help"]):
        with pytest.raises(SystemExit) as done:
            parser.parse_args(argv)
        assert done.value.code == 0, argv
