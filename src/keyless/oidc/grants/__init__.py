"""One module per grant type, chosen through the registry in ``registry.py``."""
