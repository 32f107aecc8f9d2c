"""Backups of a running node and restores that cannot fork its ledger.

`make` takes a consistent snapshot of every store (`stores`), the node's config, registry
and public keys, and its private keys only sealed under a passphrase (`key_box`), writes them
with a signed `manifest` into one tar archive (`archive`, mode 0600), and `restore` checks such
an archive byte for byte before it writes a data directory marked "restored, not yet caught up"
(`federation_api.node.restore_mark`). The procedure for operators is docs/backup.md.
"""
