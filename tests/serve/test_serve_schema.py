"""Schemathesis against the app's own OpenAPI schema: generated requests, valid and invalid, never
get a 5xx, and every answer matches the schema (status codes, bodies, content types).

The schema is loaded from a fixture-built app, and each operation's Hypothesis strategy is run
directly (``schemathesis.pytest.from_fixture`` breaks on pytest 9).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from serve_data import SERVE_MODELS

from animerec.serve.app import create_app

MAX_EXAMPLES = 40


@pytest.fixture(scope="module")
def api_schema(tiny_workspace, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    db = tmp_path_factory.mktemp("schemathesis") / "feedback.db"
    app = create_app(tiny_workspace, db_url=f"sqlite:///{db}", models=SERVE_MODELS)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    from schemathesis.python import asgi

    asgi.shutdown_lifespans()  # closes the app's database before its folder goes


def _operations(schema) -> list:
    ops = [r.ok() for r in schema.get_all_operations()]
    assert len(ops) >= 9  # health, search, anime, similar, recommend, users x5
    return ops


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_and_never_fails(api_schema, mode: GenerationMode) -> None:
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
            response = case.call()
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text}"
            )
            case.validate_response(response)

        check()
