"""The store's settings: the ``[store]`` table itself (:class:`config.model.StoreConfig`).

One declaration: the config loader builds it from the file (with every value checked
against :data:`config.settings.SETTINGS`), tests build one by hand with the keyword
arguments they care about; its defaults equal the declared ones (a test checks).
"""

from __future__ import annotations

from config.model import StoreConfig as StoreSettings

__all__ = ["StoreSettings", "from_config"]


def from_config(section: StoreSettings | None) -> StoreSettings:
    """The settings to use: ``cfg.store``, or the defaults."""
    return section if section is not None else StoreSettings()
