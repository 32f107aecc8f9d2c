"""Documents (issue 12): the records of uploaded documents and their download log, as
`federation_api.documents.store` creates them. The documents' bytes are files in the node's
document storage, never in a database and never on the ledger.
"""

from __future__ import annotations

from federation_api.migrations.statements import run

revision = "node_0006"
down_revision = "node_0005"
branch_labels = None
depends_on = None

SQL = """
-- as federation_api.documents.store creates them
CREATE TABLE IF NOT EXISTS documents (
    document_id TEXT PRIMARY KEY,
    owner_account_id TEXT,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    original_name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    uploaded_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_subject ON documents (subject_kind, subject_id);
CREATE INDEX IF NOT EXISTS documents_owner ON documents (owner_account_id);
CREATE INDEX IF NOT EXISTS documents_sha256 ON documents (sha256);
CREATE TABLE IF NOT EXISTS document_downloads (
    download_id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    downloaded_at TEXT NOT NULL,
    client TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS document_downloads_document ON document_downloads (document_id);
"""


def upgrade() -> None:
    """Create the documents and document_downloads tables and their indexes."""
    run(SQL)


def downgrade() -> None:
    """Not offered: dropping the tables would lose which file is whose and who opened it."""
    raise NotImplementedError("document records are not downgraded")
