"""Files written whole or not at all, and never through a link.

Every file the two packages write (class graphs, run records, metrics, detections, logs,
caches, checkpoints) goes through :func:`atomic_open` or :func:`write_atomic`: the content goes
to a fresh temporary file in the same folder, created exclusively (so a link planted at any
name is never followed), is flushed to disk, and is renamed over the destination (a link at the
destination is replaced, not followed). A reader sees the old file or the new one, never a
torn one; a write that fails (an error, a full disk, Ctrl-C) leaves the old file as it was and
no temporary file behind (a process killed outright may leave a hidden ``.NAME.*.partial``,
which nothing reads). Files that grow line by line (logs, caches) are opened by
:func:`open_append`, which refuses a link. A JSON file a user gives is read by
:func:`read_json`.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

_UMASK = os.umask(0)
os.umask(_UMASK)
#: The permissions of a written file: what ``open`` would give (``0o666`` less the umask);
#: a temporary file is created ``0o600``.
FILE_MODE = 0o666 & ~_UMASK


@contextmanager
def atomic_open(
    path: str | os.PathLike[str],
    binary: bool = False,
    previous: Path | None = None,
    sync: bool = True,
) -> Iterator[IO[Any]]:
    """A file object whose content replaces ``path`` when the ``with`` block ends without an
    error (text in UTF-8, or bytes with ``binary``); nothing changes if it raises.

    Args:
        path: the file to write (its folder is created).
        binary: a binary file object instead of a text one.
        previous: where the file being replaced is kept (renamed there first), e.g. the
            checkpoint before the last.
        sync: flush the content to the disk before the rename, so that the file is whole
            after a power cut too (off for the many files of a generated dataset, which its
            stamp, written last, vouches for).

    Raises:
        IsADirectoryError: ``path`` is a directory.
        OSError: the folder cannot be written, or the disk is full (``errno.ENOSPC``); the
            message names ``path``.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> with atomic_open(folder / "a.txt") as f:
        ...     _ = f.write("hello")
        >>> (folder / "a.txt").read_text()
        'hello'
    """
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        os.fchmod(descriptor, FILE_MODE)
        mode = "wb" if binary else "w"
        with os.fdopen(descriptor, mode, encoding=None if binary else "utf-8") as f:
            yield f
            f.flush()
            if sync:
                os.fsync(f.fileno())
        if previous is not None and path.is_file() and not path.is_symlink():
            os.replace(path, previous)
        os.replace(name, path)
    except OSError as error:
        Path(name).unlink(missing_ok=True)
        if error.filename in (None, name):  # name the file meant, not the temporary one
            raise OSError(error.errno, f"{error.strerror or error} (writing)", str(path)) from error
        raise
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike[str], content: str | bytes, sync: bool = True) -> Path:
    """Write ``content`` (text in UTF-8, or bytes) to ``path`` with :func:`atomic_open`;
    return the path."""
    path = Path(path)
    with atomic_open(path, binary=isinstance(content, bytes), sync=sync) as f:
        f.write(content)
    return path


def open_append(path: str | os.PathLike[str]) -> IO[str]:
    """``path`` opened to append text (created if missing); a link there is refused
    (``OSError`` with ``errno.ELOOP``) instead of followed."""
    path = Path(path)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags, 0o666)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise OSError(
                errno.ELOOP, "is a link; the package never writes through a link", str(path)
            ) from None
        raise
    return os.fdopen(descriptor, "a", encoding="utf-8")


def save_figure(figure: Any, path: str | os.PathLike[str], **options: Any) -> Path:
    """A matplotlib figure saved to ``path`` (its format from the name) with
    :func:`atomic_open`; ``options`` go to ``savefig``."""
    path = Path(path)
    with atomic_open(path, binary=True) as f:
        figure.savefig(f, format=path.suffix.lstrip(".").lower() or "png", **options)
    return path


def read_json(path: Path, error: type[Exception] = ValueError) -> Any:
    """The JSON document in the file at ``path`` (UTF-8); a file that is not one raises
    ``error`` naming it (``"PATH: not JSON (...)"``)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as problem:
        raise error(f"{path}: not JSON ({problem})") from problem
