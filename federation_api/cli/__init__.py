"""The `alliance` command line."""
