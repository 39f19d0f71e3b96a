"""``/api/v1/system/update``: the update check, and starting an update or a rollback.

The web process asks the host (``update_check``, ``update_start`` on the control socket,
host/control/update_ops.py); it never runs the updater itself. An update answers 202 with
a job at once, whose progress is read from ``GET /api/v1/store/jobs/<id>`` (updates are the
store's one change job). The update restarts ledhost, this process with it: the page
waits for the API to answer again, then reads the outcome from the check.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from web.auth import body
from web.store_api import send

bp = Blueprint("api_update", __name__, url_prefix="/api/v1/system")

#: Seconds to wait for the check (the host gives up after 45; the index after 10).
CHECK_WAIT = 50.0


@bp.get("/update")
def check() -> ResponseReturnValue:
    """Running and installed versions, the newest on the index, the last outcome."""
    fields = {"t": "update_check", "refresh": request.args.get("refresh") in ("1", "true")}
    return jsonify(data=send(fields, CHECK_WAIT))


@bp.post("/update")
def start() -> ResponseReturnValue:
    """Start ``{"op": "update", "version": optional}`` or ``{"op": "rollback"}``: a job."""
    data = body()
    fields = {"t": "update_start", "op": data.get("op"), "version": data.get("version")}
    return jsonify(data=send(fields)), 202
