"""The signed chain: entries, commitments, the entry store, the writer and length records."""
