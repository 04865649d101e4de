"""Files that only the service's own user may read: the stores, the keys, the exports.

The process's umask usually leaves new files readable by every local user (0644). The
ledger's files hold personal data, secrets (webhook signing secrets, token hashes) and
the key that signs the hash chain, so they are made private from the start: folders
0700, files 0600. An export never writes through a symbolic link nor over a file that
is already there, which another local user could have planted.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TextIO

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW


class ExportRefused(Exception):
    """The place an export would be written is taken (a file, or a link to elsewhere)."""


def private_directory(path: str | Path) -> Path:
    """The folder, made 0700 if it was missing (its missing parents as the umask says)."""
    path = Path(path)
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=DIRECTORY_MODE, exist_ok=True)
    return path


def private_file(path: str | Path) -> Path:
    """The file, made empty and 0600 if it was missing, before anything else opens it
    (SQLite gives its journal and WAL files the mode of the database file)."""
    path = Path(path)
    private_directory(path.parent)
    with contextlib.suppress(FileExistsError):  # made before: its mode is the operator's
        os.close(os.open(path, _NEW, FILE_MODE))
    return path


def new_file(path: str | Path) -> TextIO:
    """A new 0600 file at ``path``, open for writing; refused if anything is there already
    (even a dangling symbolic link)."""
    try:
        descriptor = os.open(path, _NEW, FILE_MODE)
    except FileExistsError:
        raise ExportRefused(f"{path} already exists: export to a new folder") from None
    return os.fdopen(descriptor, "w")
