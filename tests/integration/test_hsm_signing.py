"""The signing key in a real SoftHSM2 token through PKCS#11 (issue 13).

Entries sealed by a node whose key is in the token verify with the ledger's own verification;
the private key cannot be read out of the token; a wrong PIN, a loose PIN file or a missing
key is a clear error that signs nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, ObjectClass

from domain.levels import Level
from domain.policy import AssociationPolicy
from federation_api.clock import now, today
from federation_api.demo.seed import seed
from federation_api.node.endorsement_ids import new_endorsement_id
from federation_api.node.root import Node
from federation_api.node.setup import NodeError, NodePaths, init_node
from federation_api.node.signing_key import node_signer, rotate_into_token
from federation_api.settings import Settings
from ledger import hsm_keys
from ledger.errors import KeyFileError
from ledger.hsm_keys import Pkcs11Uri, TokenKeyError
from ledger.signing import Signer, Verifier
from tests.integration.softhsm import USER_PIN, SoftHsm

TOKENS = ("alliance", "locked-out", "node")


@pytest.fixture(scope="module")
def hsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """One token store for the module (SoftHSM2 reads its config once per process)."""
    store = SoftHsm.create(tmp_path_factory.mktemp("softhsm"), TOKENS)
    before = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(store.conf)
    yield store
    if before is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = before


def test_a_token_key_signs_what_the_verifier_accepts(hsm: SoftHsm) -> None:
    uri = hsm.uri("alliance", "signing-1")
    public_key = hsm_keys.generate(uri)
    signer = hsm_keys.token_signer(uri)
    assert signer.in_token and signer.public_key == public_key
    verifier = Verifier(public_key)
    verifier.verify(signer.sign(b"entry body"), b"entry body")
    # A batch large enough for the thread pool, and several threads signing at once: the
    # token session is shared under one lock, so every signature still comes out whole.
    batch = [f"entry {i}".encode() for i in range(200)]
    for message, signature in zip(batch, signer.sign_many(batch), strict=True):
        verifier.verify(signature, message)
    failures: list[BaseException] = []

    def sign_some(start: int) -> None:
        try:
            for i in range(start, start + 50):
                verifier.verify(signer.sign(b"%d" % i), b"%d" % i)
        except BaseException as e:  # collected: a thread's failure must fail the test
            failures.append(e)

    threads = [threading.Thread(target=sign_some, args=(k * 50,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a signing thread hung"
    assert not failures
    assert hsm_keys.public_key(uri) == public_key


def test_the_private_key_never_leaves_the_token(hsm: SoftHsm) -> None:
    uri = hsm.uri("alliance", "signing-2")
    hsm_keys.generate(uri)
    signer = hsm_keys.token_signer(uri)
    with pytest.raises(KeyFileError, match="never leaves"):
        signer.private_seed()
    with pytest.raises(KeyFileError, match="never leaves"):
        signer.save(hsm.root / "stolen.key")
    # Asked directly, outside the node's code, the token refuses the key's value.
    session, _ = hsm_keys._sessions[(hsm.module, "alliance")]
    private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label="signing-2")
    assert private[Attribute.SENSITIVE] is True
    assert private[Attribute.EXTRACTABLE] is False
    with pytest.raises(pkcs11.exceptions.AttributeSensitive):
        private[Attribute.VALUE]


def test_an_imported_key_file_signs_as_before(hsm: SoftHsm) -> None:
    file_key = Signer.generate()
    uri = hsm.uri("alliance", "imported")
    assert hsm_keys.import_key(uri, file_key) == file_key.public_key
    in_token = hsm_keys.token_signer(uri)
    assert in_token.key_id == file_key.key_id
    Verifier(file_key.public_key).verify(in_token.sign(b"after import"), b"after import")
    with pytest.raises(TokenKeyError, match="already"):
        hsm_keys.import_key(uri, file_key)
    with pytest.raises(TokenKeyError, match="already"):
        hsm_keys.generate(uri)


def test_a_wrong_pin_is_a_clear_error(hsm: SoftHsm) -> None:
    with pytest.raises(TokenKeyError, match="wrong PIN for token 'locked-out'"):
        hsm_keys.token_signer(hsm.uri("locked-out", "any", pin="wrong"))
    # Once another caller has logged in, the shared session does not admit a wrong PIN either.
    hsm_keys.generate(hsm.uri("alliance", "signing-3"))
    with pytest.raises(TokenKeyError, match="wrong PIN for token 'alliance'"):
        hsm_keys.token_signer(hsm.uri("alliance", "signing-3", pin="wrong"))


@pytest.mark.parametrize(("uri", "message"), [
    ("file:/keys/signing.key", "starting with pkcs11:"),
    ("pkcs11:object=k?pin-source=file:/x", "needs token="),
    ("pkcs11:token=t?pin-source=file:/x", "needs object="),
    ("pkcs11:token=t;object=k", "needs pin-source"),
    ("pkcs11:token=t;object=k?pin-value=1234", "pin-value in a PKCS#11 URI is refused"),
    ("pkcs11:token;object=k?pin-source=file:/x", "has no value"),
], ids=["not-pkcs11", "no-token", "no-object", "no-pin", "pin-in-uri", "bare-attribute"])
def test_bad_uris_are_refused(uri: str, message: str) -> None:
    with pytest.raises(TokenKeyError, match=message):
        Pkcs11Uri.parse(uri)


def test_uri_attributes_are_percent_decoded() -> None:
    parsed = Pkcs11Uri.parse("pkcs11:token=My%20Token;object=sig;id=%01%ff"
                             "?pin-source=file:/run/pin&module-path=/opt/hsm/p11.so")
    assert (parsed.token, parsed.label, parsed.key_id) == ("My Token", "sig", b"\x01\xff")
    assert (parsed.module, parsed.pin_file) == ("/opt/hsm/p11.so", Path("/run/pin"))
    assert Pkcs11Uri.parse("pkcs11:token=t;object=k?pin-source=/p").module == \
        hsm_keys.DEFAULT_MODULE


def test_token_problems_name_what_is_wrong(hsm: SoftHsm) -> None:
    loose = hsm.pin_file("loose", USER_PIN, mode=0o644)
    with pytest.raises(TokenKeyError, match="must not be readable by group or others"):
        hsm_keys.token_signer(hsm.uri("alliance", "signing-1").replace(
            str(hsm.root / "right.pin"), str(loose)))
    with pytest.raises(TokenKeyError, match="no Ed25519 private key 'absent'"):
        hsm_keys.token_signer(hsm.uri("alliance", "absent"))
    with pytest.raises(TokenKeyError, match="no single token labelled 'nowhere'"):
        hsm_keys.token_signer(hsm.uri("nowhere", "k"))
    with pytest.raises(TokenKeyError, match="cannot load the PKCS#11 module"):
        hsm_keys.token_signer(hsm.uri("alliance", "k").replace(hsm.module,
                                                               "/nonexistent/p11.so"))


def record_one(node: Node, key: str) -> str:
    """One more entry: an endorsement imported from a paper roster."""
    endorsement_id = new_endorsement_id(node.association, f"hsm:{key}")
    node.service.record_existing(endorsement_id=endorsement_id, person_id=f"AK-P-{key}",
                                 family_name="Token", given_name="Tess", level=Level.IFS,
                                 designation=None, granted_on=dt.date(2020, 1, 1),
                                 valid_through=dt.date(today().year, 12, 31),
                                 legacy_reference=f"paper-{key}", now=now())
    return endorsement_id


def test_a_node_signs_its_ledger_in_the_token(hsm: SoftHsm, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "ak")
    init_node(settings, association="AK", name="Alaska", policy=AssociationPolicy(),
              now=now() - dt.timedelta(days=1))
    paths = NodePaths(settings.data_dir)
    uri = hsm.uri("node", "ak-signing")
    hsm_keys.import_key(uri, Signer.load(paths.signing_key))
    paths.signing_key.unlink()  # from here on only the token can sign for AK
    on_token = replace(settings, signing_key=uri)
    node = Node(on_token)
    try:
        assert node.signer.in_token
        seed(node, today())
        count = node.verify_ledger("AK")  # every signature and link, the usual way
        assert count > 10
    finally:
        node.close()
    # Rotation to a second token key: entries before still verify under the first key's
    # window, entries after under the new key's.
    record = rotate_into_token(on_token, hsm.uri("node", "ak-signing-2"), now=now())
    node = Node(replace(settings, signing_key=hsm.uri("node", "ak-signing-2")))
    try:
        assert node.signer.key_id == record.key_id
        record_one(node, "after-rotation")
        assert node.verify_ledger("AK") == count + 1
    finally:
        node.close()
    # The old token key is no longer the association's current key: the node refuses it.
    with pytest.raises(KeyFileError, match="not the association's current key"):
        Node(on_token)
    with pytest.raises(NodeError, match="ALLIANCE_SIGNING_KEY must be"):
        node_signer(replace(settings, signing_key="vault:whatever"), paths.signing_key)
