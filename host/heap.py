"""The host's start-up heap given back to the kernel once it shows its first frame.

Starting leaves freed memory inside glibc's heap: the CLI's parser, the config's TOML and
its validation, discovery's metadata, the self-check. glibc returns only the top of the
heap on its own; the rest stays resident and private to the host for its whole run.
``malloc_trim(0)`` gives every free page back (``madvise``), once, after the first frame:
~0.6 MiB of the host's PSS with one clock (``benchmarks/memory.py``; issue 15), for well
under a millisecond of CPU. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes


def trim_heap() -> None:
    """Give glibc's free heap pages back to the kernel (nothing to retry where it cannot)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)
