"""Keep freed memory in the process for the rest of a run, to be used again.

A month of a large operator's exports is millions of rows, and reading and
computing it makes many short-lived arrays of tens of megabytes. By default
glibc maps every block above 32 MiB afresh and unmaps it when it is freed, and
Arrow's mimalloc pool hands freed pages back to the system within milliseconds.
Each new array then costs a page fault per page, and on a virtual machine whose
host takes freed pages back that is about 2 s per GiB: measured at 5 million
bills it was 8 to 9 s of a 21 s run, and the cost grew faster than the rows.

So the run takes its memory from glibc's heap only (no per-block maps), never
trims the heap, and sends Arrow's allocations to the same allocator. The
process then touches each page about once; its resident size stays at its peak
until it exits, which suits a batch run (a served deployment runs every flow
run in a process of its own). Elsewhere than on glibc only Arrow's pool is set.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

import pyarrow as pa

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


@cache
def keep_freed_memory() -> bool:
    """Set the process's allocators as above, once; True when glibc took the settings."""
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
