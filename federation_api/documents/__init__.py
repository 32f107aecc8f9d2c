"""Applicants' and staff's documents (issue 12): transcripts, certificates and other files an
application or renewal rests on, kept privately by the node and never on the ledger
(docs/documents.md).

`storage` (the storage port and the embedded default on disk, files named by content hash),
`incoming` (an upload on its way in: a private spool bounded by the size limit),
`content_checks` (what a file is, by its bytes, and the refusals), `names` (the original file
name, for display only), `store` (the `documents` table and its download log), `service`
(`Documents`: accept, list, open for a viewer), `evidence` (the documents' digests an
application's evidence commitment carries), `errors`.
"""
