"""Portable credentials wired into the node (issue 14): the node's `did:web` identity, issuing
an Open Badges 3.0 credential in the transaction of the command that earns it, publishing and
recording its status lists, and checking what the origins of peers' lists serve.

The pure parts (building, signing, verifying) are `ledger.credentials`; this package holds what
needs the node: its settings, its stores, its projections and its key.
"""
