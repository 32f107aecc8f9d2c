"""Portable credentials: W3C Verifiable Credentials 2.0 / Open Badges 3.0, did:web, status lists."""
