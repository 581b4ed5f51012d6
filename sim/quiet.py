"""Keep C code from writing to the process's standard output.

PyBullet's C code prints ``pybullet build time: ...`` on import and ``argv[0]=`` when a
client connects, straight to file descriptor 1, which corrupts anything a command prints
there (the JSON of ``lunarsite bench``). :func:`c_stdout_silenced` points descriptor 1 at
``/dev/null`` for the duration; logging (on standard error) is untouched.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator

__all__ = ["c_stdout_silenced"]


@contextlib.contextmanager
def c_stdout_silenced() -> Iterator[None]:
    """Send whatever is written to file descriptor 1 (C code included) to /dev/null.

    Python's and C's buffers are flushed on the way in and out, so nothing written before
    is lost and nothing written inside escapes later. Not thread-safe: another thread's
    output to standard output is swallowed meanwhile.
    """
    try:
        libc: ctypes.CDLL | None = ctypes.CDLL(None)
    except OSError:  # no C library to flush through (not a POSIX system)
        libc = None
    for stream in (sys.stdout, sys.__stdout__):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            if stream is not None:
                stream.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no file descriptor 1 (a detached process): nothing to protect
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            if libc is not None:
                libc.fflush(None)
            os.dup2(devnull, 1)
        finally:
            os.close(devnull)
        try:
            yield
        finally:
            if libc is not None:
                libc.fflush(None)
            os.dup2(saved, 1)
    finally:
        os.close(saved)
