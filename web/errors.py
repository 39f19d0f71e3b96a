"""Every error leaves the web process as JSON ``{"code", "message"}``; never a traceback.

Codes are stable (scripts match on them); messages name the problem for a person.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from host.ipc.control_client import ControlFailed, HostNotRunning

log = logging.getLogger(__name__)

#: Host refusals that are the caller's fault map to 4xx; the rest are 409.
_FAILED_STATUS = {
    "unknown_instance": 404, "unknown_mode": 404, "no_such_instance": 404,
    "no_such_section": 404, "no_such_action": 404, "no_such_mode": 404, "busy": 503,
    "no_such_job": 404, "store_failed": 502, "invalid": 400, "bad_request": 400,
    "invalid_config": 400, "not_set": 404, "not_secret": 400, "update_failed": 502,
}  # fmt: skip


class ApiError(Exception):
    """An error with an HTTP status, a stable code and a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error(status: int, code: str, message: str) -> ResponseReturnValue:
    """The JSON error response."""
    return jsonify(code=code, message=message), status


def install(app: Flask) -> None:
    """Register the handlers that turn every failure into a JSON error."""

    @app.errorhandler(ApiError)
    def _api(exc: ApiError) -> ResponseReturnValue:
        return error(exc.status, exc.code, exc.message)

    @app.errorhandler(HostNotRunning)
    def _down(exc: HostNotRunning) -> ResponseReturnValue:
        return error(503, "host_unavailable", str(exc))

    @app.errorhandler(ControlFailed)
    def _failed(exc: ControlFailed) -> ResponseReturnValue:
        return error(_FAILED_STATUS.get(exc.code, 409), exc.code, str(exc))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> ResponseReturnValue:
        code = (exc.name or "error").lower().replace(" ", "_")
        return error(exc.code or 500, code, exc.description or code)

    @app.errorhandler(Exception)
    def _crash(exc: Exception) -> ResponseReturnValue:
        log.exception("unhandled error in the web process")
        return error(500, "internal_error", "internal error; see the web process's log")
