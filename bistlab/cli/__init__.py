"""The command line (typer): `bistlab ...`. Imports any layer; nothing imports it."""
