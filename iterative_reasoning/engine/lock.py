"""One training process per run directory: a lock on ``OUTPUT_DIR/.lock``.

Two processes that trained into the same directory would write over each other's checkpoints
and logs. :func:`train` holds the directory's lock while it runs: a second process gets a
:class:`RunDirectoryBusy` error naming the process that holds it. The lock is the kernel's
(``flock``), so it ends with the process that holds it: the lock file of a killed run is
taken over by the next one without a word. Within one process the lock is re-entrant: a
command that holds it while it writes the run's data can call :func:`train`, which takes it
again.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

LOCK = ".lock"
#: The locks this process holds: the lock file's path -> (descriptor, holders).
_HELD: dict[Path, tuple[int, int]] = {}


class RunDirectoryBusy(RuntimeError):
    """Another process trains into the run directory."""


class RunDirectoryLock:
    """The lock of a run directory, held from :meth:`acquire` (or ``with``) to :meth:`release`.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> with RunDirectoryLock(folder) as lock:  # another process would be refused now
        ...     lock.path.read_text().strip() == str(os.getpid())
        True
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK
        self._descriptor: int | None = None

    def acquire(self) -> RunDirectoryLock:
        """Take the lock (the directory is created); raise :class:`RunDirectoryBusy` when
        another process holds it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        key = self.path.resolve()
        if key in _HELD:  # this process holds it already
            descriptor, holders = _HELD[key]
            _HELD[key] = (descriptor, holders + 1)
            self._descriptor = descriptor
            return self
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        try:
            descriptor = os.open(self.path, flags, 0o644)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise OSError(errno.ELOOP, "is a link, not a lock file", str(self.path)) from None
            raise
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(descriptor)
            raise RunDirectoryBusy(
                f"{self.directory} is in use: process {holder} is training into it (lock "
                f"{self.path}); wait for it to end, stop it, or give another output directory"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        self._descriptor = descriptor
        _HELD[key] = (descriptor, 1)
        return self

    def release(self) -> None:
        """Let the lock go (the file stays; an unheld lock file means nothing)."""
        if self._descriptor is None:
            return
        self._descriptor = None
        key = self.path.resolve()
        descriptor, holders = _HELD.pop(key)
        if holders > 1:
            _HELD[key] = (descriptor, holders - 1)
            return
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)

    def __enter__(self) -> RunDirectoryLock:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()
