"""The ``auth`` blueprint: first-run setup, login/logout, API tokens."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, current_app, jsonify, request, session
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from web.auth_store import AuthError
from web.errors import ApiError
from web.security import csrf_token, is_local, store

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth")


def body() -> dict[str, Any]:
    """The request's JSON object, or a 400 naming the problem.

    The body must be sent as ``application/json``: a cross-site page can send any other
    type without asking (a CORS preflight), so taking those would let any web site the
    user visits post to the sign (web.hosts).
    """
    if not request.is_json:
        raise ApiError(
            415, "unsupported_media_type",
            f"send the body as JSON with Content-Type: application/json "
            f"(got {request.mimetype or 'none'!r})",
        )  # fmt: skip
    try:
        data = request.get_json()
    except RequestEntityTooLarge:
        raise
    except BadRequest:
        data = None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return data


@bp.get("/state")
def state() -> ResponseReturnValue:
    """Whether setup is needed and whether this caller is logged in."""
    return jsonify(setup_required=store().needs_setup, logged_in=session.get("user") == "admin")


@bp.post("/setup")
def setup() -> ResponseReturnValue:
    """Set the first admin password: from the local network, or with the logged code."""
    if not store().needs_setup:
        raise ApiError(409, "already_set_up", "the admin password is already set")
    data = body()
    code = current_app.config.get("LEDHOST_SETUP_CODE")
    given = data.get("setup_code")
    by_code = isinstance(given, str) and code and secrets.compare_digest(given, code)
    if not by_code and not is_local(request.remote_addr):
        raise ApiError(403, "setup_not_local", "setup from outside the LAN needs the setup code")
    try:
        store().set_password(data.get("password"))  # type: ignore[arg-type]
    except AuthError as exc:
        raise ApiError(400, "invalid_password", str(exc)) from exc
    session.clear()
    session["user"] = "admin"
    return jsonify(ok=True, csrf_token=csrf_token()), 201


@bp.post("/login")
def login() -> ResponseReturnValue:
    """Start a browser session; rate-limited per client address."""
    current_app.extensions["ledhost.ratelimit"].hit(request.remote_addr or "?")
    if store().needs_setup:
        raise ApiError(403, "setup_required", "no admin password yet: POST /api/v1/auth/setup")
    if not store().check_password(body().get("password")):  # type: ignore[arg-type]
        raise ApiError(401, "bad_password", "wrong password")
    session.clear()
    session["user"] = "admin"
    return jsonify(ok=True, csrf_token=csrf_token())


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End the browser session."""
    session.clear()
    return jsonify(ok=True)


@bp.get("/tokens")
def list_tokens() -> ResponseReturnValue:
    """Every API token's id, name and age (values are never shown again)."""
    return jsonify(tokens=store().list_tokens())


@bp.post("/tokens")
def create_token() -> ResponseReturnValue:
    """A new API token; its value is in this response only."""
    try:
        return jsonify(store().create_token(body().get("name"))), 201  # type: ignore[arg-type]
    except AuthError as exc:
        raise ApiError(400, "invalid_name", str(exc)) from exc


@bp.delete("/tokens/<token_id>")
def revoke_token(token_id: str) -> ResponseReturnValue:
    """Revoke a token at once."""
    if not store().revoke_token(token_id):
        raise ApiError(404, "unknown_token", f"no token with id {token_id!r}")
    return jsonify(ok=True)
