"""The ground floor every layer stands on: the workspace's folders, result records and cycle state, names of symbols,
tasks and studies, the clock, locks, atomic JSON files, text and HTML formatting, fault injection. Imports errors and config."""
