"""Schemathesis against the served OpenAPI document, with an API token.

The host is down here (a socket path with nothing listening), so host calls answer the
documented 503 ``host_unavailable`` (so Schemathesis's own 5xx check is off and this test
refuses 500 itself); what this finds is a 500, a traceback, or a response that does not
match the document. Two more checks are off: ``ignored_auth`` re-sends our
call's own valid token (a false positive; auth is tested in test_web.py), and
``positive_data_acceptance`` because request bodies are documented as plain objects, not
field by field yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    ignored_auth,
    positive_data_acceptance,
)

from web import create_app  # noqa: E402


@pytest.mark.timeout(600)
def test_the_openapi_document_holds(tmp_path: Path) -> None:
    app = create_app({"auth_file": tmp_path / "auth.json", "socket": str(tmp_path / "no.sock")})
    app.test_client().post("/api/v1/auth/setup", json={"password": "correct-horse-battery"})
    token = app.extensions["ledhost.auth"].create_token("st")["token"]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    tried: list[int] = []
    failures: list[str] = []
    for result in schema.get_all_operations():
        op = result.ok()

        @settings(max_examples=25, suppress_health_check=list(HealthCheck), deadline=None)
        @given(op.as_strategy())
        def check(case: Any) -> None:
            tried.append(1)
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            assert response.status_code != 500 and "Traceback" not in response.text
            case.validate_response(
                response,
                excluded_checks=[ignored_auth, not_a_server_error, positive_data_acceptance],
            )

        try:
            check()
        except Exception as exc:  # one operation's failure; keep testing the others
            failures.append(f"{op.method} {op.path}: {exc}")
    print(f"schemathesis: {len(tried)} requests tried, {len(failures)} failures")
    assert not failures, failures
