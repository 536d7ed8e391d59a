"""Content hashes of a user's files: they name the data prepared from a file, so an edited file is
prepared anew."""

from __future__ import annotations

import hashlib
import os
import re

from jaxae.errors import DataError


def content_hash(path: str, what: str) -> str:
    """12 hex digits of the SHA-256 of a file's bytes (names data made from a user's file, so an
    edited file is prepared anew); DataError naming `what` when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()[:12]
    except OSError as error:
        raise DataError(f"cannot read {what} {path!r}: {error.strerror or error}") from None


def tag_of(path: str, content: str, default: str) -> str:
    """'<the file or folder's base name, letters, digits, '_' and '-' only, at most 32>-<content>':
    names what is prepared from a user's files (`default` when nothing of the name is left)."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", os.path.splitext(os.path.basename(path.rstrip(os.sep)))[0]).strip("_")
    return f"{base[:32] or default}-{content}"
