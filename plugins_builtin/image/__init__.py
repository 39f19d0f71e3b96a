"""Image: a slideshow of the PNG, JPEG and animated GIF files in a folder.

An ordinary plugin that uses only :mod:`sdk`. All the slow work happens in
``refresh_data``: listing the folder every half minute, decoding files that are new or
changed (with size checks before any pixel is decoded), and scaling every frame for the
display. ``render_frame`` only pastes a prepared slide and returns the time until the next
frame is due, so animations keep the timing their authors gave them.

Pixel art stays crisp: with ``resample = "auto"`` nothing is ever enlarged with a
smoothing filter, and small sprites grow by whole-number factors (see
:func:`sdk.images.scale_image`).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from plugins_builtin.image.show import Look, Settings, Show
from sdk import Canvas, PluginConfigError, PluginContext, check_colors, color_option, hookimpl
from sdk.canvas import parse_color

MODE: Final = "slideshow"
#: Seconds between scans of the folder for new, changed or removed files.
RESCAN_SECONDS: Final = 30.0
#: Seconds to the next scan while files are still waiting to be decoded.
CONTINUE_SECONDS: Final = 0.5
#: Where images go by default, inside the plugin's data folder.
DEFAULT_SUBFOLDER: Final = "images"

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "folder": {
            "type": "string",
            "maxLength": 1024,
            "default": "",
            "title": "Folder",
            "description": "Where the images are. Empty: the 'images' folder in this "
            "plugin's data folder (created for you). '~' means your home folder; a "
            "relative path is inside the data folder.",
        },
        "recursive": {
            "type": "boolean",
            "default": False,
            "title": "Include subfolders",
            "description": "Also show images in folders inside the folder.",
        },
        "fit": {
            "type": "string",
            "enum": ["fit", "fill", "stretch"],
            "default": "fit",
            "title": "Fit",
            "description": "fit: the whole image, with bars of the background colour; "
            "fill: covers the display, the overflow cropped; stretch: the display's "
            "shape, distorted.",
        },
        "resample": {
            "type": "string",
            "enum": ["auto", "nearest", "smooth"],
            "default": "auto",
            "title": "Scaling filter",
            "description": "auto: pixel art and enlargements stay crisp (nearest "
            "neighbour), photos are reduced smoothly; nearest or smooth: always that one.",
        },
        "seconds_per_image": {
            "type": "number",
            "minimum": 1,
            "maximum": 3600,
            "default": 10,
            "title": "Seconds per image",
            "description": "How long each still image shows before the next.",
        },
        "animation_plays": {
            "type": "integer",
            "minimum": 0,
            "maximum": 100,
            "default": 0,
            "title": "Animation plays",
            "description": "How many times an animated GIF plays before the next image. "
            "0: as long as a still image, always finishing the loop it is in.",
        },
        "order": {
            "type": "string",
            "enum": ["name", "newest", "shuffle"],
            "default": "name",
            "title": "Order",
            "description": "name: by file name (img2 before img10); newest: most "
            "recently changed first; shuffle: a random order, new each time round.",
        },
        "background": color_option(
            "#000000",
            "Background",
            "Colour around images that do not fill the display and behind transparent pixels.",
        ),
    },
    "additionalProperties": False,
}

#: One slideshow per plugin context (a worker holds one; tests may hold several).
_SHOWS: weakref.WeakKeyDictionary[PluginContext, Show] = weakref.WeakKeyDictionary()


def image_folder(config: Mapping[str, Any], data_dir: Path) -> Path:
    """The folder to show: ``folder`` with ``~`` expanded, relative to ``data_dir``."""
    folder = str(config.get("folder", "")).strip()
    if not folder:
        return data_dir / DEFAULT_SUBFOLDER
    return data_dir / Path(folder).expanduser()  # an absolute path replaces data_dir


def settings(config: Mapping[str, Any], data_dir: Path) -> Settings:
    """``config`` checked and resolved, without touching the disk (render calls it).

    :raises PluginConfigError: for a value the schema cannot rule out, naming the key.
    """
    check_colors(config, "background")
    return Settings(
        folder=image_folder(config, data_dir),
        recursive=bool(config.get("recursive", False)),
        look=Look(
            fit=str(config.get("fit", "fit")),
            resample=str(config.get("resample", "auto")),
            background=parse_color(config.get("background", "#000000")),
        ),
        order=str(config.get("order", "name")),
        seconds_per_image=float(config.get("seconds_per_image", 10)),
        animation_plays=int(config.get("animation_plays", 0)),
    )


def check_config(config: Mapping[str, Any], data_dir: Path) -> Settings:
    """:func:`settings`, plus a check that the folder is not a file.

    A folder that does not exist yet is fine (a USB stick not mounted yet): the plugin
    warns and has no content until it appears.
    """
    resolved = settings(config, data_dir)
    if resolved.folder.exists() and not resolved.folder.is_dir():
        raise PluginConfigError(
            f"folder: {resolved.folder} is a file; give the folder that holds the images"
        )
    return resolved


def _show(context: PluginContext) -> Show:
    show = _SHOWS.get(context)
    if show is None:
        show = _SHOWS[context] = Show(context.log, context.size)
    return show


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register(MODE, title="Images", duration=20.0)


@hookimpl
def config_schema() -> dict[str, Any]:
    return CONFIG_SCHEMA


@hookimpl
def setup(context: PluginContext) -> None:
    resolved = check_config(context.config, context.data_dir)
    if not str(context.config.get("folder", "")).strip():
        # Created up front, so a user who looks for where to put images finds the folder.
        try:
            resolved.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            context.log.warning("cannot create image folder %s: %s", resolved.folder, exc)
    _show(context)


@hookimpl
def configure(context: PluginContext, config: dict[str, Any]) -> None:
    check_config(config, context.data_dir)  # the worker re-runs refresh_data right after


@hookimpl
def teardown(context: PluginContext) -> None:
    _SHOWS.pop(context, None)


@hookimpl
def refresh_data(context: PluginContext) -> float:
    resolved = settings(context.config, context.data_dir)
    changed, pending = _show(context).refresh(
        resolved.folder, resolved.look, recursive=resolved.recursive
    )
    if changed:
        context.request_redraw(MODE)
    return CONTINUE_SECONDS if pending else RESCAN_SECONDS


@hookimpl
def has_content(context: PluginContext, mode: str) -> bool | None:
    if mode != MODE:
        return None
    return bool(_show(context).view.library.pictures)


@hookimpl
def render_frame(
    context: PluginContext, canvas: Canvas, mode: str, frame: int, now: float
) -> float | None:
    if mode != MODE:
        return None
    show = _show(context)
    if frame == 0:
        show.activate(canvas.size)
    return show.render(context, canvas, mode, now, settings(context.config, context.data_dir))
