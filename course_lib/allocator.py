"""How a lesson's process hands memory back to the system (glibc's ``malloc``).

A lesson frees big arrays and whole models as it goes (``del``, ``gc.collect()``,
``keras.backend.clear_session()``), but what it frees does not always leave the process.
With its default settings glibc's ``malloc``:

- gives each of TensorFlow's many threads an arena of its own (up to eight per core), and
  keeps the memory freed in each for that arena's later use;
- serves an allocation from ``mmap`` (handed back to the system the moment it is freed) only
  above a threshold that *rises* each time such a block is freed, up to 32 MB: after a few
  big arrays come and go, arrays of several MB are carved from the heap instead, where a
  small block still in use keeps the memory around it from being returned.

On a laptop that is harmless; in a 2 GB Binder pod it is the difference between fitting and
being killed (lesson 06 peaks about 0.25 GB lower with the settings below, every number it
prints unchanged). :func:`use_lean_allocator` caps the arenas at two, fixes the ``mmap``
threshold at 4 MB (so a freed block of 4 MB or more goes back at once) and trims the heap's
top once 4 MB of it is free. Importing :mod:`course_lib` calls it, before TensorFlow starts
its threads in most lessons. On other C libraries (macOS, Windows, musl) nothing happens.

:func:`release_freed_memory` returns what the heap still holds free, on demand: before a
lesson starts other processes, or loads a model after freeing another.
"""

from __future__ import annotations

import ctypes
import platform
import sys

# mallopt's parameter numbers, from glibc's <malloc.h>
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

ARENAS = 2
MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024
TRIM_THRESHOLD_BYTES = 4 * 1024 * 1024


def _glibc() -> ctypes.CDLL | None:
    """The C library this process already uses, when it is glibc."""
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def use_lean_allocator() -> bool:
    """Set glibc's ``malloc`` to hand freed memory back to the system sooner.

    Returns whether the settings were made (False where the C library is not glibc). Memory
    already held is not affected; call it early. Each setting is the documented ``mallopt``
    equivalent of an environment variable (``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_``,
    ``MALLOC_TRIM_THRESHOLD_``), which a process can only read when it starts.
    """
    libc = _glibc()
    if libc is None:
        return False
    settings = {
        M_ARENA_MAX: ARENAS,
        M_MMAP_THRESHOLD: MMAP_THRESHOLD_BYTES,
        M_TRIM_THRESHOLD: TRIM_THRESHOLD_BYTES,
    }
    # mallopt returns 1 on success, 0 on error
    return all(libc.mallopt(parameter, value) == 1 for parameter, value in settings.items())


def release_freed_memory() -> bool:
    """Hand the memory this process has freed back to the system; False where the C library can't.

    glibc's ``malloc`` keeps freed memory for the process's later allocations, and in a
    TensorFlow process with a hundred threads much of it stays there, counted against the
    machine's memory. ``malloc_trim`` returns it. Call it before starting other processes
    (:func:`course_lib.distributed_cluster.start_workers` does) or loading a model after
    freeing another (:func:`course_lib.retrain.retrain` does). Other C libraries (macOS,
    Windows, musl) have no such call, and nothing happens there.
    """
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)  # returns whether anything was given back; either way the call was made
    return True
