"""``ledhost check``: writes its text with Pillow in a 4-pixel font (capitals 3 pixels
high): too small to read on a panel."""

from __future__ import annotations

from typing import Any

from PIL import ImageFont

from sdk import Canvas, hookimpl


@hookimpl
def register_modes(register: Any) -> None:
    register("tiny", title="Tiny")


@hookimpl
def render_frame(canvas: Canvas) -> None:
    canvas.draw.text((2, 2), "tiny", font=ImageFont.load_default(size=4), fill="#ffffff")
