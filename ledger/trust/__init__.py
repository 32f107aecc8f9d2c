"""Trust: the Alliance trust registry, key windows (keyring) and the registry's files."""
