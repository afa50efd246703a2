"""Release tooling run from a checkout (`python3 dev.py dist`); never shipped in the plugin."""
