"""The ledhost plugin SDK: everything a plugin author imports.

A plugin is a module (declared under the ``ledhost.plugins`` entry-point group) with
functions decorated ``@hookimpl``; see :mod:`sdk.hookspecs` for every hook. This package
imports nothing else of ledhost's, so it is safe to depend on from any plugin.
"""

from __future__ import annotations

from sdk import priorities
from sdk.canvas import Canvas
from sdk.context import PluginContext
from sdk.errors import PluginConfigError, PluginError
from sdk.fonts import Font, fit_font, font_names, load_font, shorten, wrap
from sdk.hookspecs import ENTRY_POINT_GROUP, PERMISSIONS_GROUP, PROJECT_NAME, hookimpl
from sdk.http import Fetched, FetchError, HttpClient, network_properties
from sdk.options import check_colors, color_option, time_zone, time_zone_option
from sdk.registration import MAX_STRIP_WIDTH, NAME_PATTERN
from sdk.strip import Strip

__all__ = [
    "ENTRY_POINT_GROUP",
    "PERMISSIONS_GROUP",
    "MAX_STRIP_WIDTH",
    "NAME_PATTERN",
    "PROJECT_NAME",
    "Canvas",
    "FetchError",
    "Fetched",
    "Font",
    "HttpClient",
    "PluginConfigError",
    "PluginContext",
    "PluginError",
    "Strip",
    "check_colors",
    "color_option",
    "fit_font",
    "font_names",
    "hookimpl",
    "load_font",
    "priorities",
    "network_properties",
    "shorten",
    "time_zone",
    "time_zone_option",
    "wrap",
]
