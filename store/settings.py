"""The store's settings as the store sees them (``[store]`` in the config file).

A plain dataclass, so :mod:`store` needs nothing of the config loader: the CLI builds one
from :class:`config.HostConfig` (:func:`from_config`), tests build one by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = ["DEFAULT_REGISTRY", "StoreSettings", "from_config"]

#: The official registry's index (a user adds their own after it).
DEFAULT_REGISTRY: Final = "https://ledhost.github.io/registry/index.json"


@dataclass(frozen=True)
class StoreSettings:
    """How the store fetches and installs; every field has a safe default."""

    #: Registry index URLs, searched in order (the first offering an id wins).
    registries: tuple[str, ...] = (DEFAULT_REGISTRY,)
    #: How long a fetched index is fresh; older, it is fetched again (stale on failure).
    cache_ttl_seconds: float = 3600.0
    #: Downloads (indexes and wheels) larger than this are stopped while streaming.
    max_download_mb: float = 50.0
    #: Seconds without a byte before a download is given up.
    timeout_seconds: float = 20.0
    #: Which installer builds environments.
    installer: Literal["pip", "uv"] = "pip"
    #: Package index for dependencies and ``pypi:`` sources; "" for none (offline).
    index_url: str = "https://pypi.org/simple"
    #: Extra folders of wheels the installer may take dependencies from (tests, offline Pis).
    find_links: tuple[str, ...] = field(default_factory=tuple)

    @property
    def max_download_bytes(self) -> int:
        return int(self.max_download_mb * 1024 * 1024)


def from_config(section: Any) -> StoreSettings:
    """Build settings from a config object with the same field names (``cfg.store``)."""
    if section is None:
        return StoreSettings()
    names = StoreSettings.__dataclass_fields__
    values = {name: getattr(section, name) for name in names if hasattr(section, name)}
    for key in ("registries", "find_links"):
        if key in values:
            values[key] = tuple(values[key])
    return StoreSettings(**values)
