"""Content hashes of a user's files: they name the data prepared from a file, so an edited file is
prepared anew."""

from __future__ import annotations

import hashlib

from jaxae.errors import DataError


def content_hash(path: str, what: str) -> str:
    """12 hex digits of the SHA-256 of a file's bytes (names data made from a user's file, so an
    edited file is prepared anew); DataError naming `what` when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()[:12]
    except OSError as error:
        raise DataError(f"cannot read {what} {path!r}: {error.strerror or error}") from None
