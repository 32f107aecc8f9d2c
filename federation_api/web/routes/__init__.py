"""The JSON API routes (one module per audience; none imports another)."""
