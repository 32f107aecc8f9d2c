"""The pure checks of an audit: hash chains, witnesses and checkpoints, and the report."""
