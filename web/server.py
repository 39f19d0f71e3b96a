"""Serve the app with waitress.

Why waitress: pure Python (installs on a Pi with no compiler), a production server with a
bounded thread pool and request-size limits, and it runs on Linux without forking
workers (gunicorn's pre-fork model costs a process per worker on a 512 MB Pi and adds
nothing for one admin).
"""

from __future__ import annotations

import secrets
import sys
from typing import Any

from web import create_app


def serve(bind: str, port: int, config: dict[str, Any] | None = None) -> None:
    """Serve until killed; logs the one-time setup code when setup is pending."""
    import waitress  # type: ignore[import-untyped]

    cfg = dict(config or {})
    cfg.setdefault("setup_code", secrets.token_urlsafe(9))
    app = create_app(cfg)
    if app.extensions["ledhost.auth"].needs_setup:
        # Printed, not only logged: the CLI may have set logging up quieter than this.
        print(f"ledhost web: no admin password yet; setup code: {cfg['setup_code']}",
              file=sys.stderr, flush=True)  # fmt: skip
    print(f"ledhost web: serving on {bind}:{port}", file=sys.stderr, flush=True)
    # Event streams (web/events.py) hold a thread each: up to MAX_STREAMS of these threads,
    # the rest answer the API. A stream's client that stops reading blocks its thread once
    # 1 MiB waits unsent, instead of buffering up to waitress's default 16 MiB.
    from web.events import MAX_STREAMS

    waitress.serve(
        app,
        host=bind,
        port=port,
        threads=MAX_STREAMS + 4,
        ident="ledhost",
        outbuf_high_watermark=1 << 20,
    )
