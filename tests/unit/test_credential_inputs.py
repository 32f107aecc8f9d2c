"""Whatever a credential file holds, the verifier answers with a CredentialError naming the
reason, never with another exception (a crash would be a 5xx at the node's edge)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.credentials import StatusPurpose
from ledger.credentials.verify import load_document, verify_credential
from ledger.errors import CredentialError, MalformedCredential
from tests.unit.credential_fixtures import T0, IssuingAssociation

ISSUER = IssuingAssociation()
CREDENTIAL = ISSUER.issue().credential
ISSUER.publish_all()
EVIDENCE = ISSUER.evidence()
AS_OF = T0 + dt.timedelta(days=1)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=8)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


PATHS = [p for p in paths(CREDENTIAL) if p]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), JSON)
def test_any_value_anywhere_is_refused_with_a_reason_or_verified(path: tuple[Any, ...],
                                                                 value: Any) -> None:
    altered = copy.deepcopy(CREDENTIAL)
    node = altered
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    try:
        verify_credential(altered, EVIDENCE, AS_OF)
    except CredentialError as refused:
        assert refused.reason


DID_DOCUMENT = EVIDENCE.did_document.document
LIST_URL = ISSUER.list_url(StatusPurpose.SUSPENSION)
LIST = EVIDENCE.status_lists[LIST_URL]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["did", "list"]), st.data(), JSON)
def test_any_value_in_the_did_document_or_a_list_is_refused_or_harmless(
        target: str, data: st.DataObject, value: Any) -> None:
    document = copy.deepcopy(DID_DOCUMENT if target == "did" else LIST)
    path = data.draw(st.sampled_from([p for p in paths(document) if p]))
    node = document
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    if target == "did":
        evidence = ISSUER.evidence(did_document=type(EVIDENCE.did_document)(
            EVIDENCE.did_document.url, document))
    else:
        evidence = ISSUER.evidence(status_lists={**EVIDENCE.status_lists, LIST_URL: document})
    try:
        verify_credential(CREDENTIAL, evidence, AS_OF)
    except CredentialError as refused:
        assert refused.reason


def test_deeply_nested_input_is_refused_before_anything_recurses() -> None:
    deep = b'{"name": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    with pytest.raises(MalformedCredential, match=r"nested too deeply|deeper than"):
        load_document(deep)
    nested: list[Any] = []
    altered = {**CREDENTIAL, "name": nested}
    for _ in range(5000):
        inner: list[Any] = []
        nested.append(inner)
        nested = inner
    with pytest.raises(MalformedCredential, match="deeper than 32"):
        verify_credential(altered, EVIDENCE, AS_OF)
