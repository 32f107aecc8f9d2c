"""JSON-LD expansion and RDF canonicalisation (RDFC-1.0) with pyld, from shipped contexts only.

Data Integrity proofs sign the canonical N-Quads of a document, not its JSON. Three properties
of pyld 3.3.0 would make a naive use sign less, or something else, than the JSON says, and
each is closed here:

- pyld silently drops a property whose term no context defines (VC 2.0 has no `@vocab`), so
  the property would not be signed; the reference JavaScript verifiers run in "safe mode" and
  refuse such a document. `check_safe` refuses it too, on issuing and on verifying.
- pyld's default base IRI is `http://example.org/base/`, so a relative `id` would silently
  become an IRI nobody wrote. Expansion runs with no base, and relative IRIs are refused.
- RDFC-1.0 (2024) escapes C0 control characters in literals; pyld writes them raw, so such a
  string hashes differently here than in every other implementation. They are refused.

Contexts come only from `contexts/` (see its README for sources and hashes). The loader
refuses every other URL: there is no network access at issue or verification, ever.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any

from pyld import jsonld

from ledger.errors import ContextNotShipped, MalformedCredential, UnsafeDocument

VC2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
DID_CONTEXT = "https://www.w3.org/ns/did/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"

_SHIPPED = {
    VC2_CONTEXT: "credentials-v2.jsonld",
    OB3_CONTEXT: "ob-v3p0-context-3.0.3.json",
    DID_CONTEXT: "did-v1.jsonld",
    MULTIKEY_CONTEXT: "multikey-v1.jsonld",
}
# Characters RDFC-1.0 escapes in N-Quads literals and pyld 3.3.0 does not (tab, LF and CR are
# escaped by both and are allowed).
_CONTROL = frozenset(chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F))

JsonObject = dict[str, Any]
# Nesting deeper than this is refused before any recursive processing (pyld, the schema
# validator and the checks below recurse); the documents here nest about 6 deep.
MAX_DEPTH = 32
# pyld reports some malformed input as JsonLdError and some as plain Python exceptions from
# deep inside (a context that is an empty string, a keyword holding a number): all of them
# are "this is not a document we can process", never a crash.
_PYLD_ERRORS = (jsonld.JsonLdError, ValueError, TypeError, KeyError, IndexError,
                AttributeError, RecursionError)


def shipped_file(name: str) -> bytes:
    """The bytes of a file in `contexts/` (a context or the OB3 JSON schema)."""
    return resources.files(__package__).joinpath("contexts", name).read_bytes()


class ContextLoader:
    """A pyld document loader serving the shipped contexts and nothing else.

    pyld calls it for every context URL a document names. Its answers carry `tag: "static"`,
    which lets pyld keep the processed context in its process-wide cache; that cache is keyed
    by URL, so a process must never serve two different documents for one URL (no loader
    here can: the shipped files are fixed, and `extra` may only add URLs).
    """

    def __init__(self, extra: Mapping[str, JsonObject] | None = None) -> None:
        self._documents: dict[str, JsonObject] = {
            url: json.loads(shipped_file(name)) for url, name in _SHIPPED.items()}
        for url, document in (extra or {}).items():
            if url in self._documents:
                raise ValueError(f"{url} is a shipped context and cannot be replaced")
            self._documents[url] = document

    def __call__(self, url: str, options: object = None) -> JsonObject:
        """The remote-document record pyld expects, or a loading error for any other URL."""
        document = self._documents.get(url)
        if document is None:
            raise _NotShipped(url)
        return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
                "document": document, "tag": "static"}


class _NotShipped(jsonld.JsonLdError):  # type: ignore[misc]
    """The loader's refusal; pyld wraps it, and `_expand` finds it in the chain of causes."""

    def __init__(self, url: str) -> None:
        super().__init__("document not shipped", "jsonld.LoadDocumentError", {"url": url},
                         code="loading document failed")
        self.url = url


SHIPPED_CONTEXTS = ContextLoader()


def canonicalize(document: JsonObject, loader: ContextLoader = SHIPPED_CONTEXTS) -> str:
    """RDFC-1.0 canonical N-Quads of `document`, after refusing what safe mode refuses.

    Expands once, checks that expansion, then canonicalises the expanded form (expanding an
    expanded document again is cheap): this costs one expansion, not two."""
    dropped: list[str] = []
    expanded = _expand(document, loader, dropped)
    check_safe(document, expanded, dropped)
    try:
        # pyld names RDFC-1.0 by its former name, URDNA2015 (same output; its default is the
        # older URGNA2012, so the name must be given). i18n-datatype as in jsonld.js.
        nquads: str = jsonld.normalize(expanded, {
            "algorithm": "URDNA2015", "format": "application/n-quads", "base": None,
            "rdfDirection": "i18n-datatype", "documentLoader": loader})
    except _PYLD_ERRORS as e:
        raise UnsafeDocument(f"cannot canonicalise the document: {_reason(e)}") from e
    return nquads


def check_depth(document: object) -> None:
    """Refuse JSON nested deeper than MAX_DEPTH (without recursing to find out)."""
    pending: list[tuple[object, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise MalformedCredential(f"the document nests deeper than {MAX_DEPTH} levels")
            items = value.values() if isinstance(value, dict) else value
            pending.extend((item, depth + 1) for item in items)


def _expand(document: JsonObject, loader: ContextLoader, dropped: list[str]) -> list[Any]:
    if not isinstance(document, dict):
        raise MalformedCredential("a JSON-LD document must be a JSON object")
    check_depth(document)
    on_dropped: Callable[[str | None], None] = lambda term: dropped.append(str(term))  # noqa: E731
    try:
        expanded: list[Any] = jsonld.expand(document, {"documentLoader": loader, "base": None},
                                            on_property_dropped=on_dropped)
    except _PYLD_ERRORS as e:
        refusal = _refusal_in(e)
        if refusal is not None:
            raise ContextNotShipped(refusal.url) from e
        raise UnsafeDocument(f"invalid JSON-LD: {_reason(e)}") from e
    return expanded


def check_safe(document: JsonObject, expanded: list[Any], dropped: Sequence[str] = ()) -> None:
    """Refuse a document whose expansion lost or invented meaning (what the reference
    verifiers' safe mode refuses): a dropped property, a relative IRI, a JSON value with no
    counterpart in the expansion, or a control character anywhere in a string."""
    written = _count_written(document)  # first: it names a control character as such
    if dropped:
        raise UnsafeDocument(f"term {dropped[0]!r} is not defined by the document's contexts "
                             "and would not be signed")
    kept = _count_expanded(expanded)
    if written != kept:
        # Another loss (a value dropped for its shape) or an addition; either way the JSON and
        # what is signed disagree.
        raise UnsafeDocument(f"{abs(written - kept)} JSON value(s) of the document have no "
                             "counterpart after JSON-LD expansion")


def _count_written(value: Any) -> int:
    """Scalar JSON values in the input, outside `@context`; refuses control characters."""
    if isinstance(value, dict) and "@value" in value:
        # A value object written out: it stands for one value (and its language/direction),
        # as in the expansion; its @type is a datatype, not a value of its own.
        for item in value.values():
            _count_written(item)
        return sum(1 for key in ("@value", "@language", "@direction") if key in value)
    if isinstance(value, dict):
        count = 0
        for key, item in value.items():
            _refuse_control(key)
            if key != "@context":
                count += _count_written(item)
        return count
    if isinstance(value, list):
        return sum(_count_written(item) for item in value)
    if isinstance(value, str):
        _refuse_control(value)
    return 0 if value is None else 1


def _count_expanded(value: Any) -> int:
    """Scalar values in the expansion that stand for a written one; refuses relative IRIs.

    A value object's `@type` is a datatype the context supplied (counted out), unless the
    document wrote the value object itself, which `_count_written` counts the same way."""
    if isinstance(value, list):
        return sum(_count_expanded(item) for item in value)
    if not isinstance(value, dict):
        return 0
    if "@value" in value:
        return sum(1 for key in ("@value", "@language", "@direction") if key in value)
    count = 0
    for key, item in value.items():
        if key == "@id":
            _require_absolute(item, "@id")
            count += 1
        elif key == "@type":
            for type_ in item if isinstance(item, list) else [item]:
                _require_absolute(type_, "@type")
                count += 1
        elif key.startswith("@"):
            count += _count_expanded(item)
        else:
            _require_absolute(key, "property")
            count += _count_expanded(item)
    return count


def _require_absolute(iri: object, what: str) -> None:
    if not isinstance(iri, str) or not (iri.startswith("_:") or _is_absolute(iri)):
        raise UnsafeDocument(f"{what} {iri!r} is not an absolute IRI (relative IRIs are not "
                             "resolved against any base)")


def _is_absolute(iri: str) -> bool:
    scheme, colon, _ = iri.partition(":")
    return bool(colon) and scheme[:1].isascii() and scheme[:1].isalpha() and all(
        c.isascii() and (c.isalnum() or c in "+-.") for c in scheme)


def _refuse_control(text: str) -> None:
    if not _CONTROL.isdisjoint(text):
        raise UnsafeDocument(f"control character in {text[:40]!r}: RDF canonicalisation "
                             "implementations disagree on it")


def _refusal_in(error: BaseException | None) -> _NotShipped | None:
    seen = 0
    while error is not None and seen < 20:  # pyld wraps a loader error once or twice
        if isinstance(error, _NotShipped):
            return error
        error, seen = error.__cause__ or error.__context__, seen + 1
    return None


def _reason(error: Exception) -> str:
    return str(error.args[0]) if error.args else type(error).__name__
