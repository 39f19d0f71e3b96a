"""The slideshow of one plugin instance: library, scaled slides, player, across threads.

Two threads meet here. The refresh thread scans the folder and prepares *slides*: every
frame already scaled, centred and laid on the background at each display size in use, so
a render is one paste. It publishes them as one immutable :class:`View`; the render thread
reads that reference once per frame and never waits for a lock held during decoding.

The display size can change between activations (a layout region). The render thread
tells the refresh thread which sizes it draws at, and until the next scan has prepared
slides for a new size it scales the few frames it needs itself, from the small copies the
library keeps, so a new size costs one scaled frame per frame shown, never a decode.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from PIL import Image

from plugins_builtin.image.library import SIZES_KEPT, Library, Picture, Scanner
from plugins_builtin.image.player import Player
from sdk import Canvas, PluginContext
from sdk.canvas import RGB
from sdk.images import paste_centered, scale_image

#: Size = ``(width, height)`` of the canvas drawn on.
Size = tuple[int, int]
#: Slides the render thread scales itself before the next scan prepares them; a bound
#: on its memory (an animation of many frames at a new size).
_EXTRA_SLIDES: Final = 400


@dataclass(frozen=True)
class Look:
    """The settings that decide how a slide looks; a change means new slides."""

    fit: str
    resample: str
    background: RGB


@dataclass(frozen=True)
class View:
    """One published state: the pictures and their slides per display size."""

    library: Library
    look: Look
    slides: Mapping[tuple[Picture, Size], tuple[Image.Image, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """The plugin's config, checked and resolved (see ``CONFIG_SCHEMA``)."""

    folder: Path
    recursive: bool
    look: Look
    order: str
    seconds_per_image: float
    animation_plays: int


def make_slide(frame: Image.Image, pixel_art: bool, size: Size, look: Look) -> Image.Image:
    """``frame`` scaled for ``size`` and centred on the background: an RGB image of ``size``."""
    scaled = scale_image(frame, *size, mode=look.fit, resample=look.resample, pixel_art=pixel_art)
    canvas = Canvas(*size)
    canvas.clear(look.background)
    paste_centered(canvas, scaled)
    return canvas.image


class Show:
    """Everything one instance of the image plugin remembers."""

    def __init__(self, log: logging.Logger, size: Size, rng: random.Random | None = None) -> None:
        self.log = log
        self.scanner = Scanner(log)
        self.player = Player(rng)
        #: The refresh thread's latest result; swapped whole, read once per render.
        self.view = View(Library(Path()), Look("fit", "auto", (0, 0, 0)))
        self._lock = threading.Lock()
        #: Sizes drawn at, most recent last (render thread writes, refresh thread reads).
        self._sizes: list[Size] = [size]
        #: The biggest width and height drawn at: what decoded frames must cover.
        self._cover: Size = size
        # Render thread only:
        self._extra: dict[tuple[Picture, int, Size, Look], Image.Image] = {}
        self._extra_view: View | None = None
        self._extended = False

    # -- refresh thread -------------------------------------------------------------------

    def refresh(self, folder: Path, look: Look, *, recursive: bool) -> tuple[bool, bool]:
        """Scan ``folder`` and prepare slides for every size in use.

        :returns: ``(changed, pending)``: whether what is shown changed, and whether
            files are left to decode (refresh again soon).
        """
        with self._lock:
            sizes, cover = list(self._sizes), self._cover
        library, pending = self.scanner.scan(
            folder, recursive=recursive, cover=cover, resample=look.resample
        )
        old = self.view
        slides: dict[tuple[Picture, Size], tuple[Image.Image, ...]] = {}
        for picture in library.pictures:
            for size in sizes:
                key = (picture, size)
                kept = old.slides.get(key) if old.look == look else None
                slides[key] = kept or tuple(
                    make_slide(frame, picture.pixel_art, size, look) for frame in picture.frames
                )
        changed = old.look != look or old.library.pictures != library.pictures
        self.view = View(library, look, slides)
        return changed, pending

    # -- render thread --------------------------------------------------------------------

    def activate(self, size: Size) -> None:
        """The mode became active at ``size``: next picture, and slides for this size."""
        self.player.activate()
        self._extended = False
        with self._lock:
            if size in self._sizes:
                self._sizes.remove(size)
            self._sizes.append(size)
            del self._sizes[:-SIZES_KEPT]
            self._cover = (max(self._cover[0], size[0]), max(self._cover[1], size[1]))

    def render(
        self, context: PluginContext, canvas: Canvas, mode: str, now: float, settings: Settings
    ) -> float | None:
        """Draw the frame due at ``now``; return the seconds until the next one is due."""
        look = settings.look
        view = self.view
        pictures = view.library.pictures
        if not pictures:
            # Shown only when the user pins the mode: has_content keeps it out otherwise.
            canvas.clear(look.background)
            if canvas.measure("no images")[0] <= canvas.width:
                canvas.text_centered("no images", "small", "#808080")
            return None
        step = self.player.step(
            pictures,
            now,
            order=settings.order,
            seconds_per_image=settings.seconds_per_image,
            animation_plays=settings.animation_plays,
        )
        picture = pictures[step.index]
        canvas.image.paste(self._slide(view, picture, step.frame, canvas.size, look))
        if step.started_animation and not self._extended:
            # Once per turn: enough to finish the animation that starts now, without
            # chaining extensions from one animation to the next.
            self._extended = True
            context.request_more_time(mode, step.planned)
        return step.delay

    def _slide(
        self, view: View, picture: Picture, frame: int, size: Size, look: Look
    ) -> Image.Image:
        slides = view.slides.get((picture, size)) if view.look == look else None
        if slides is not None:
            return slides[frame]
        if self._extra_view is not view or len(self._extra) >= _EXTRA_SLIDES:
            self._extra.clear()
            self._extra_view = view
        key = (picture, frame, size, look)
        slide = self._extra.get(key)
        if slide is None:
            slide = make_slide(picture.frames[frame], picture.pixel_art, size, look)
            self._extra[key] = slide
        return slide
