"""Prices in and out: the price stores (SQLite/PostgreSQL, tables read in place), importers and file dialects,
validation, trading sessions and the purged date splitter. Imports core."""
