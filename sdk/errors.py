"""Errors a plugin may raise on purpose; the worker reports their text to the user as is."""

from __future__ import annotations

__all__ = ["PluginConfigError", "PluginError"]


class PluginError(Exception):
    """A failure the user should read (bad credentials, unknown team), not a bug.

    .. versionadded:: 0.1
    """


class PluginConfigError(PluginError):
    """The plugin's config is valid by its schema but unusable (e.g. an unknown timezone).

    .. versionadded:: 0.1
    """
