"""Database and study URLs: built from a file (:func:`storage_url`) and back (:func:`storage_path`), the
SQLite file a URL names, and URLs and passwords kept out of text.

Used by the price stores (:mod:`bistlab.data.store`, :mod:`bistlab.data.store_mapped`) and the Optuna storages
(:mod:`bistlab.search.storage`).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, quote_plus

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bistlab.errors import DataError

__all__ = ["cannot_open", "masked_url", "scrubbed", "sqlite_file", "storage_url", "storage_path", "JOURNAL_SUFFIX"]


JOURNAL_SUFFIX = ".log"
"""The ending of an Optuna journal file (:func:`storage_url`)."""


def storage_url(path: str | Path) -> str:
    """The storage URL of a study or database file: ``journal:<path>`` for an Optuna journal file
    (ending in :data:`JOURNAL_SUFFIX`), else ``sqlite:///<path>`` (a SQLite file: ``.db``,
    ``.sqlite``). :func:`storage_path` gives the path back."""
    path = Path(path)
    return f"journal:{path}" if path.suffix == JOURNAL_SUFFIX else f"sqlite:///{path}"


def storage_path(url: str) -> Path | None:
    """The file behind a storage URL (``sqlite:///<path>``, ``journal:<path>`` or a bare path
    ending in :data:`JOURNAL_SUFFIX`); ``None`` for a server's (PostgreSQL, MySQL) or an
    in-memory SQLite database. The inverse of :func:`storage_url`."""
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    if url.startswith("journal:"):
        return Path(url.removeprefix("journal:"))
    if url.endswith(JOURNAL_SUFFIX) and "://" not in url:
        return Path(url)
    return None


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL naming a plain file, else ``None`` (another backend, memory, a URI).

    Raises:
        ArgumentError: the URL cannot be parsed.
    """
    parsed = make_url(url)
    database = parsed.database
    plain_file = bool(database) and database != ":memory:" and not database.startswith("file:")
    if parsed.get_backend_name() == "sqlite" and plain_file:
        return Path(database).expanduser()
    return None


def masked_url(url: str) -> str:
    """``url`` with its password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparseable URL>"


def scrubbed(text: str, url: str) -> str:
    """``text`` on one line, without ``url`` or its password.

    The password is masked where it stands as a word of its own (between characters that are not
    letters or digits: ``:pw@``, ``password=pw``, quoted), so a short one such as ``p`` never eats
    into the rest of the message ("port 1 failed" stays readable).
    """
    text = " ".join(text.split()).replace(url, masked_url(url))
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        password = None
    if not password:
        return text
    for form in sorted({password, quote(password, safe=""), quote_plus(password)}, key=len, reverse=True):
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(form)}(?![A-Za-z0-9])", "***", text)
    return text


def cannot_open(err: SQLAlchemyError, *, shown: str, url: str) -> DataError:
    """The one-line error of a database that cannot be reached or inspected."""
    cause = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
    return DataError(f"price store {shown} cannot be opened: {type(err).__name__}: {scrubbed(cause, url)}")
