"""The pictures of the image folder: found, decoded once, kept small, refreshed by change.

Runs on the worker's refresh thread. Each scan lists the folder, decodes only files that
are new or whose modification time or size changed, and publishes an immutable
:class:`Library` the render thread picks up by one reference read. Decoded frames are
reduced right away to the smallest size that still covers the panel, and their memory is
counted against a budget, so a folder of phone photos or one long GIF cannot push the
worker over its memory limit.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from PIL import Image

from sdk.images import ImageError, is_pixel_art, iter_frames, scale_image

#: Files looked at per scan; a folder with more shows the first ones by name.
MAX_FILES: Final = 1000
#: Pixels of one decoded image (a JPEG counts after decoding reduced for the panel).
#: A 12-megapixel PNG is ~48 MB decoded: fine once, and the worker limit has room.
MAX_PIXELS: Final = 12_000_000
#: Frames of one animation; a longer one shows its first frames.
MAX_FRAMES: Final = 300
#: Bytes of decoded frames (plus their scaled copies) one file may use.
FILE_BUDGET: Final = 24 * 1024 * 1024
#: Bytes of decoded frames all files together may use.
TOTAL_BUDGET: Final = 96 * 1024 * 1024
#: Seconds of decoding per scan; the rest continues on the next, soon after.
DECODE_SECONDS: Final = 8.0
#: Scaled copies kept per frame: the panel and one layout region.
SIZES_KEPT: Final = 2


@dataclass(frozen=True, eq=False)
class Picture:
    """One decoded image file: its frames, reduced to cover the panel, and their timing."""

    #: Path relative to the folder, with ``/``: the name shown in logs and sorted by.
    name: str
    path: Path
    #: ``(mtime_ns, size)`` of the file when decoded; a change means decode again.
    stamp: tuple[int, int]
    mtime: float
    #: RGBA (or RGB) frames, no bigger than needed to cover :attr:`cover`.
    frames: tuple[Image.Image, ...]
    #: Each frame's duration in seconds; ``(0.0,)`` for a still image.
    durations: tuple[float, ...]
    #: Scale every frame as pixel art (nearest-neighbour, whole factors).
    pixel_art: bool
    #: The box the frames cover at full detail; a bigger display means decode again.
    cover: tuple[int, int]
    #: Estimated bytes of the frames and their scaled copies.
    cost: int
    #: The resample setting big frames were reduced with.
    reduced_with: str

    def usable(self, stamp: tuple[int, int], cover: tuple[int, int], resample: str) -> bool:
        """Whether this decode still serves: same file, big enough, same filter."""
        return (
            self.stamp == stamp
            and self.cover[0] >= cover[0]
            and self.cover[1] >= cover[1]
            and self.reduced_with == resample
        )

    @property
    def animated(self) -> bool:
        return len(self.frames) > 1


@dataclass(frozen=True)
class Library:
    """What the refresh thread publishes: the usable pictures, in name order."""

    folder: Path
    pictures: tuple[Picture, ...] = ()


@dataclass
class Scanner:
    """The refresh thread's memory between scans: what is decoded, what failed."""

    log: logging.Logger
    #: Decoded pictures by path.
    known: dict[Path, Picture] = field(default_factory=dict)
    #: Files that failed, with the stamp they failed at: warned once, retried on change.
    failed: dict[Path, tuple[int, int]] = field(default_factory=dict)
    #: Files left out for the memory budget, with their stamp (warned once each, tried
    #: again when anything in the folder changes).
    over_budget: dict[Path, tuple[int, int]] = field(default_factory=dict)
    #: Every listed file's path and stamp at the last scan.
    signature: frozenset[tuple[Path, int, int]] = frozenset()
    #: The folder warned about as missing (to warn once).
    missing: Path | None = None
    #: Whether the folder had too many files at the last scan (to warn once).
    too_many: bool = False

    def scan(
        self, folder: Path, *, recursive: bool, cover: tuple[int, int], resample: str
    ) -> tuple[Library, bool]:
        """List ``folder`` and decode what changed.

        :param cover: the biggest display size seen; frames are kept at least this big.
        :param resample: the user's resample choice, used to reduce big frames.
        :returns: the new library and whether files were left to decode (call again soon).
        """
        if not folder.is_dir():
            if self.missing != folder:
                self.missing = folder
                self.log.warning(
                    "image folder %s does not exist or is not a folder: create it and put "
                    "PNG, JPEG or GIF files in it",
                    folder,
                )
            self.known.clear()
            return Library(folder), False
        self.missing = None
        files = listing(folder, recursive, self.log)
        if len(files) > MAX_FILES and not self.too_many:
            self.log.warning(
                "image folder %s holds more than %d files; showing the first %d by name",
                folder,
                MAX_FILES,
                MAX_FILES,
            )
        self.too_many = len(files) > MAX_FILES
        files = files[:MAX_FILES]
        signature = frozenset((path, stats.st_mtime_ns, stats.st_size) for path, _, stats in files)
        if signature != self.signature:
            # Something changed: what did not fit the memory budget may fit now.
            self.signature = signature
            self.over_budget.clear()
        deadline = time.monotonic() + DECODE_SECONDS
        pending = False
        decoded = 0  # at least one decode per scan, however slow: progress is guaranteed
        pictures: list[Picture] = []
        total = 0
        for path, name, stats in files:
            stamp = (stats.st_mtime_ns, stats.st_size)
            picture = self.known.get(path)
            if picture is None or not picture.usable(stamp, cover, resample):
                if self.failed.get(path) == stamp or self.over_budget.get(path) == stamp:
                    continue
                if decoded and time.monotonic() > deadline:
                    pending = True  # an older decode (if any) shows until this one is done
                else:
                    decoded += 1
                    picture = self._decode(path, name, stamp, stats.st_mtime, cover, resample)
            if picture is None:
                continue
            if total + picture.cost > TOTAL_BUDGET:
                self.known.pop(path, None)
                self.over_budget[path] = stamp
                self.log.warning(
                    "image %s is not shown: the images before it already use the %d MiB "
                    "the plugin keeps in memory; remove some or make them smaller",
                    name,
                    TOTAL_BUDGET // (1024 * 1024),
                )
                continue
            self.known[path] = picture
            total += picture.cost
            pictures.append(picture)
        listed = {path for path, _, _ in files}
        for table in (self.known, self.failed):
            for gone in set(table) - listed:
                del table[gone]
        return Library(folder, tuple(pictures)), pending

    def _decode(
        self,
        path: Path,
        name: str,
        stamp: tuple[int, int],
        mtime: float,
        cover: tuple[int, int],
        resample: str,
    ) -> Picture | None:
        """Decode one file into a :class:`Picture`, or warn once and return ``None``."""
        frames: list[Image.Image] = []
        durations: list[float] = []
        flags: list[bool] = []
        cost = 0
        slide_bytes = cover[0] * cover[1] * 3 * SIZES_KEPT
        try:
            for frame, seconds in iter_frames(
                path, max_frames=MAX_FRAMES, max_pixels=MAX_PIXELS, draft_size=cover
            ):
                art = is_pixel_art(frame)
                small = reduce_to_cover(frame, cover, resample, art)
                frame_cost = small.width * small.height * len(small.getbands()) + slide_bytes
                if frames and cost + frame_cost > FILE_BUDGET:
                    self.log.warning(
                        "animation %s shows only its first %d frames: more would not fit "
                        "the %d MiB one image may use",
                        name,
                        len(frames),
                        FILE_BUDGET // (1024 * 1024),
                    )
                    break
                frames.append(small)
                durations.append(seconds)
                flags.append(art)
                cost += frame_cost
        except ImageError as exc:
            self.failed[path] = stamp
            self.known.pop(path, None)
            self.log.warning("skipping image %s", exc)
            return None
        except MemoryError:
            self.failed[path] = stamp
            self.known.pop(path, None)
            self.log.warning("skipping image %s: not enough memory to decode it", path)
            return None
        if not frames:
            self.failed[path] = stamp
            self.log.warning("skipping image %s: it has no frames", path)
            return None
        self.failed.pop(path, None)
        return Picture(
            name=name,
            path=path,
            stamp=stamp,
            mtime=mtime,
            frames=tuple(frames),
            durations=tuple(durations) if len(frames) > 1 else (0.0,),
            # One choice for all frames: a fade-in's flat first frame must not scale
            # differently from the rest.
            pixel_art=all(flags),
            cover=cover,
            cost=cost,
            reduced_with=resample,
        )


def reduce_to_cover(
    frame: Image.Image, cover: tuple[int, int], resample: str, pixel_art: bool
) -> Image.Image:
    """``frame`` reduced to the smallest size of its aspect ratio that covers ``cover``.

    Any fit, fill or layout region up to ``cover`` is then scaled from this copy, which
    is small: a 12-megapixel photo for a 128x64 panel keeps 128x96 pixels.
    """
    width, height = frame.size
    factor = max(cover[0] / width, cover[1] / height)
    if factor >= 1:
        return frame
    target = (
        min(width, math.ceil(width * factor - 1e-9)),
        min(height, math.ceil(height * factor - 1e-9)),
    )
    return scale_image(frame, *target, mode="stretch", resample=resample, pixel_art=pixel_art)


def listing(
    folder: Path, recursive: bool, log: logging.Logger
) -> list[tuple[Path, str, os.stat_result]]:
    """``(path, name, stat)`` of the regular files to try, sorted by name.

    Hidden files and folders (a leading ``.``) are skipped, and so are symlinks that lead
    outside ``folder``: the folder may be filled by uploads, and a link to ``/etc`` must
    not make the sign read whatever it points at. At most :data:`MAX_FILES` + 1 are
    listed (one more says there are too many).
    """
    root = folder.resolve()
    found: list[tuple[Path, str, os.stat_result]] = []
    visited: set[Path] = {root}
    stack = [root]
    while stack and len(found) <= MAX_FILES:
        current = stack.pop()
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError as exc:
            log.warning("cannot list image folder %s: %s", current, exc)
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                real = path.resolve(strict=True)
                if not real.is_relative_to(root):
                    continue
                stats = real.stat()
                is_dir, is_file = entry.is_dir(), entry.is_file()
            except (OSError, RuntimeError):
                continue  # a dangling or looping link, or gone meanwhile
            if is_dir and recursive and real not in visited:
                visited.add(real)
                stack.append(path)
            elif is_file:
                found.append((path, path.relative_to(root).as_posix(), stats))
    found.sort(key=lambda item: item[1])
    return found[: MAX_FILES + 1]
