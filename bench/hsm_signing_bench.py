"""Signing through a SoftHSM2 token against the in-memory key, in the same run.

    .venv/bin/python -m bench.hsm_signing_bench [--count 2000]

Makes a SoftHSM2 token store in a temporary directory (needs the Debian package softhsm2),
generates an Ed25519 key in it, and signs the same ledger-entry-sized messages (500 bytes)
with `Signer.sign_many` through the token and with a key file's in-memory key; prints entries
per second and the ratio token / memory. The in-memory key uses the signing pool (every core);
the token signs on one thread under its lock (docs/operations.md says why).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from ledger import hsm_keys
from ledger.signing import Signer, Verifier
from tests.integration.softhsm import SoftHsm


def _rate(signer: Signer, messages: list[bytes], *, one_by_one: bool = False) -> float:
    started = time.perf_counter()
    signatures = ([signer.sign(m) for m in messages] if one_by_one
                  else signer.sign_many(messages))
    elapsed = time.perf_counter() - started
    verifier = Verifier(signer.public_key)
    for message, signature in zip(messages[:50], signatures[:50], strict=True):
        verifier.verify(signature, message)  # the figures are of signatures that verify
    return len(messages) / elapsed


def main() -> None:
    """Run the comparison and print it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    messages = [os.urandom(500) for _ in range(args.count)]
    with tempfile.TemporaryDirectory() as root:
        hsm = SoftHsm.create(Path(root), ("bench",))
        os.environ["SOFTHSM2_CONF"] = str(hsm.conf)
        uri = hsm.uri("bench", "signing")
        hsm_keys.generate(uri)
        token = hsm_keys.token_signer(uri)
        memory = Signer.generate()
        _rate(memory, messages[:100])
        _rate(token, messages[:100])  # warm-up
        in_memory = _rate(memory, messages)
        one_thread = _rate(memory, messages, one_by_one=True)
        in_token = _rate(token, messages)
    print(f"{args.count} signatures of 500 B, {os.cpu_count()} cores")
    print(f"  in memory, signing pool:  {in_memory:10,.0f} /s")
    print(f"  in memory, one thread:    {one_thread:10,.0f} /s")
    print(f"  SoftHSM2 token (locked):  {in_token:10,.0f} /s")
    print(f"  token / memory pool:      {in_token / in_memory:10.3f}")
    print(f"  token / memory one thread:{in_token / one_thread:10.3f}")


if __name__ == "__main__":
    main()
