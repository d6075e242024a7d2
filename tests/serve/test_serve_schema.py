"""Schemathesis against the app's own OpenAPI schema: generated requests, valid and invalid, never
get a 5xx, and every answer matches the schema (status codes, bodies, content types).

Calls on ``/users/{user_id}…`` are authenticated: valid cases go to a real user with its token
(so they reach the handlers, not only the 404), invalid ones carry the token too.

The schema is loaded from a fixture-built app, and each operation's Hypothesis strategy is run
directly (``schemathesis.pytest.from_fixture`` breaks on pytest 9).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance
from serve_data import SERVE_MODELS

from animerec.serve.app import create_app
from animerec.serve.auth import hash_token, new_public_id, new_token
from animerec.serve.db import FeedbackStore
from animerec.serve.protection import Protection

MAX_EXAMPLES = 40


@pytest.fixture(scope="module")
def db_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("schemathesis") / "feedback.db"


@pytest.fixture(scope="module")
def api_schema(tiny_workspace, db_file: Path) -> Iterator:
    db = db_file
    app = create_app(
        tiny_workspace, db_url=f"sqlite:///{db}", models=SERVE_MODELS, protection=Protection.off()
    )
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    from schemathesis.python import asgi

    asgi.shutdown_lifespans()  # closes the app's database before its folder goes


def _operations(schema) -> list:
    ops = [r.ok() for r in schema.get_all_operations()]
    assert len(ops) >= 9  # health, search, anime, similar, recommend, users x5
    return ops


@pytest.fixture(scope="module")
def account(db_file: Path) -> tuple[str, dict[str, str]]:
    """A user in the database of the schema's app, made as POST /users makes one."""
    uid, token = new_public_id(), new_token()
    store = FeedbackStore(f"sqlite:///{db_file}")
    try:
        store.create_user(uid, hash_token(token))
    finally:
        store.close()
    return uid, {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_and_never_fails(api_schema, account, mode: GenerationMode) -> None:
    uid, auth = account
    for op in _operations(api_schema):
        has_input = any(len(x) for x in (op.path_parameters, op.query, op.body))
        if mode is GenerationMode.NEGATIVE and not has_input:
            continue  # GET /health, POST /users: nothing to get wrong

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case) -> None:
            if case.path_parameters and "user_id" in case.path_parameters:
                if mode is GenerationMode.POSITIVE:
                    case.path_parameters["user_id"] = uid
                case.headers = {**(case.headers or {}), **auth}
            response = case.call()
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text}"
            )
            # ignored_auth expects 401/403 for a *wrong* token; a wrong token is 404 here by
            # design (never confirm that another person's id exists). A missing token is 401,
            # checked in test_serve_security.py. positive_data_acceptance expects every
            # schema-valid request to succeed, but cross-field rules JSON Schema cannot state
            # are 422 by design (year_min > year_max; one anime liked and disliked), tested in
            # test_serve_filters.py and test_serve_api.py.
            case.validate_response(
                response, excluded_checks=[ignored_auth, positive_data_acceptance]
            )

        check()
