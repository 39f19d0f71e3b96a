"""Team logos: fetched once a week at most, kept on disk by the SDK, decoded small in memory.

ESPN serves each logo as a 500x500 PNG that changes once a season, if ever. Every logo goes
through ``context.fetch_bytes`` with a seven-day ``max_age``, so the SDK's disk cache in
the plugin's data folder answers without the network for a week and survives restarts;
its ``parse`` step (:func:`decode_logo`) refuses anything that is not a picture, so a
broken answer never replaces a good logo. The decoded logo is shrunk at once to
:data:`KEEP_SIZE` (a full-size RGBA logo is a megabyte; a Pi holds a season of them at
this size without noticing).

The refresh thread adds logos; the render thread reads them and keeps scaled copies for
the sizes it draws. The two share only :attr:`LogoStore.images`, a dict that is replaced,
never changed in place, so a render sees either the old set or the new one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from PIL import Image

from sdk import FetchError, PluginContext
from sdk.images import load_frames, scale_image

__all__ = ["KEEP_SIZE", "LOGO_MAX_AGE", "LogoStore", "decode_logo"]

#: How long a fetched logo is used without asking the network again.
LOGO_MAX_AGE = 7 * 24 * 3600.0
#: Decoded logos are kept at most this big: the largest a layout draws, with a margin.
KEEP_SIZE = 96
#: A logo that failed is not asked for again for this long (a 404 stays a 404).
RETRY_FAILED = 3600.0
#: More logos than this in memory and those of teams no longer shown are dropped.
MAX_LOGOS = 96
#: Bigger "logos" are refused before decoding; ESPN's are 500x500.
MAX_PIXELS = 2048 * 2048


def decode_logo(data: bytes) -> Image.Image:
    """The ``parse`` step of a logo fetch: a small RGBA image, or an exception.

    :raises sdk.images.ImageError: not a PNG/JPEG/GIF/WebP/BMP, truncated, or too large.
    """
    ((image, _seconds),) = load_frames(data, max_frames=1, max_pixels=MAX_PIXELS)
    # Logos often come with a transparent margin; without it they fill their box.
    box = image.getchannel("A").getbbox()
    if box is None:
        raise ValueError("the logo is fully transparent")
    image = image.crop(box)
    if image.width > KEEP_SIZE or image.height > KEEP_SIZE:
        image = scale_image(image, KEEP_SIZE, KEEP_SIZE, mode="fit")
    return image.convert("RGBA")


class LogoStore:
    """The logos of the teams on show, by URL."""

    def __init__(self, log: logging.Logger | None = None) -> None:
        self.log = log or logging.getLogger("ledhost.plugin.scoreboard")
        self._images: Mapping[str, Image.Image] = MappingProxyType({})
        self._failed: dict[str, float] = {}  # refresh thread only
        self._scaled: dict[tuple[str, int, int], Image.Image] = {}  # render thread only

    @property
    def images(self) -> Mapping[str, Image.Image]:
        """Every decoded logo by URL (read-only; replaced as a whole when logos arrive)."""
        return self._images

    def fetch(self, context: PluginContext, urls: Iterable[str], timeout: float) -> int:
        """Fetch the logos of ``urls`` not yet in memory; return how many arrived.

        Called from ``refresh_data``. The first failure ends this round: when one logo
        cannot be had the network is most likely down, and trying thirty more would hold
        the refresh for minutes. The failed URL rests for :data:`RETRY_FAILED`; the others
        are tried on the next refresh.
        """
        wanted = list(dict.fromkeys(urls))
        now = time.monotonic()
        new: dict[str, Image.Image] = {}
        for url in wanted:
            if url in self._images or now - self._failed.get(url, -RETRY_FAILED) < RETRY_FAILED:
                continue
            try:
                fetched = context.fetch_bytes(
                    url, max_age=LOGO_MAX_AGE, parse=decode_logo, timeout=timeout
                )
            except FetchError as exc:
                self._failed[url] = now
                self.log.info("no logo, shown without it: %s", exc)
                break
            new[url] = fetched.value
        if new:
            merged = {**self._images, **new}
            if len(merged) > MAX_LOGOS:
                keep = set(wanted)
                merged = {url: image for url, image in merged.items() if url in keep}
            self._images = MappingProxyType(merged)
        return len(new)

    def scaled(self, url: str | None, width: int, height: int) -> Image.Image | None:
        """The logo of ``url`` fitted into ``width`` x ``height``, or ``None`` without one.

        Called while rendering; each size is scaled once and then reused.
        """
        if url is None or width < 1 or height < 1:
            return None
        image = self._images.get(url)
        if image is None:
            return None
        key = (url, width, height)
        scaled = self._scaled.get(key)
        if scaled is None:
            if len(self._scaled) > 4 * MAX_LOGOS:
                self._scaled.clear()
            scaled = scale_image(image, width, height, mode="fit")
            self._scaled[key] = scaled
        return scaled
