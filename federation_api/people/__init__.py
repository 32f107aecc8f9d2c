"""The association's person records: who its applicants and professionals are, privately.

A person record holds what the association must know to reach and tell apart the people it
endorses (names, date of birth or another identity field, contact details, membership). It
lives in the node's own database only and never reaches the ledger (DESIGN invariant 7); it
is linked to the ledger by the professional id (`person_id`) the ledger's entries carry.
"""
