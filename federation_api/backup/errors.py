"""The backup room's errors."""

from __future__ import annotations

from federation_api.errors import EdgeError


class BackupError(EdgeError, ValueError):
    """A backup cannot be made, read, verified or restored as asked; nothing was changed.

    A ValueError too, so the command line reports it as the bad input it is."""
