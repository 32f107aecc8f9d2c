"""The shipped JSON-LD contexts: exact bytes, and a loader that never serves anything else."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

import ledger.credentials
from ledger.credentials.jsonld import (
    DID_CONTEXT,
    MULTIKEY_CONTEXT,
    OB3_CONTEXT,
    VC2_CONTEXT,
    ContextLoader,
    canonicalize,
    shipped_file,
)
from ledger.errors import ContextNotShipped

CONTEXTS = Path(ledger.credentials.__file__).parent / "contexts"
# The table of contexts/README.md, repeated here so that a changed file and a changed README
# cannot agree by accident.
SHA256 = {
    "credentials-v2.jsonld": "8a9f494a89ecc51db093e90e84713e07e84d6d9204364a9b3c7868b21751236f",
    "ob-v3p0-context-3.0.3.json":
        "ef2fa9c7846dce233cc166b43639027278be4ee44f00bb1d45c75de2dd0cd761",
    "multikey-v1.jsonld": "c5f3806f8286920573221938917988a18a4cc5a09e968d29649613c7a1c2b1f6",
    "did-v1.jsonld": "62c1054bf404d6dd3a4b26b64f830fd72095f6a26edc4469908c94351352ce5f",
    "ob-v3p0-achievementcredential-schema.json":
        "5753fb3ecf7d024ed273dd364bd683f483eb47257e718e6618832cf89eb2083a",
}


@pytest.mark.parametrize("name", sorted(SHA256))
def test_each_shipped_file_has_its_recorded_sha256(name: str) -> None:
    assert hashlib.sha256(shipped_file(name)).hexdigest() == SHA256[name]


def test_the_readme_names_every_shipped_file_with_its_sha256() -> None:
    readme = (CONTEXTS / "README.md").read_text()
    listed = dict(re.findall(r"`([\w.-]+\.jsonl?d?(?:on)?)` \| .*? \| `([0-9a-f]{64})`", readme))
    assert listed == SHA256
    shipped = {p.name for p in CONTEXTS.iterdir() if p.name != "README.md"}
    assert shipped == set(SHA256)


@pytest.mark.parametrize("url", [VC2_CONTEXT, OB3_CONTEXT, DID_CONTEXT, MULTIKEY_CONTEXT])
def test_the_loader_serves_each_shipped_context(url: str) -> None:
    answer = ContextLoader()(url)
    assert answer["documentUrl"] == url
    assert "@context" in answer["document"]


@pytest.mark.parametrize("url", [
    "https://www.w3.org/ns/credentials/examples/v2",
    "https://w3id.org/security/data-integrity/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json",
    "https://www.w3.org/ns/credentials/v2/",  # one character off a shipped URL
    "http://www.w3.org/ns/credentials/v2",
    "file:///etc/passwd",
])
def test_a_document_naming_any_other_context_is_refused_without_fetching(url: str) -> None:
    document = {"@context": [VC2_CONTEXT, url], "type": ["VerifiableCredential"]}
    with pytest.raises(ContextNotShipped) as refused:
        canonicalize(document)
    assert refused.value.url == url


def test_a_shipped_context_cannot_be_replaced() -> None:
    with pytest.raises(ValueError, match="cannot be replaced"):
        ContextLoader(extra={VC2_CONTEXT: {"@context": {"@vocab": "https://evil.example/#"}}})
