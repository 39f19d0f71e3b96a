"""The environment of the ``ledhost`` commands the host runs as children (store, preview).

The host forgets its ``LEDHOST_*`` variables once its config is loaded (they may hold
plugin secrets, and workers must not inherit them). A child command reads its own config,
so it is given back the ones that shape where the store lives and how workers run
(``[paths]``, ``[store]``, ``[workers]``): it then sees the same settings as the host,
and never a secret.
"""

from __future__ import annotations

import os
from typing import Any, Final

#: The settings sections a child command needs to match the host's.
PASSED: Final = ("LEDHOST_PATHS__", "LEDHOST_STORE__", "LEDHOST_WORKERS__")


def child_env(host: Any) -> dict[str, str]:
    """``os.environ`` plus the host's start-time settings variables of :data:`PASSED`."""
    started = getattr(getattr(host, "options", None), "config_env", None) or {}
    return {**os.environ, **{k: v for k, v in started.items() if k.startswith(PASSED)}}
