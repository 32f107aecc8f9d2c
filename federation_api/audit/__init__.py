"""Export of a node and the audit of an export or a live node."""
