"""Schema fuzzing: schemathesis draws requests from /api/openapi.json and checks the answers.

The app runs in-process (WSGI) with the fake encoder, once over a real index of the seeds
plus a corpus with markup in every field, once without any index. Every generated request,
valid or deliberately invalid, must answer without a 500, with a status, content type,
headers and body that the document declares. Examples are bounded (a few seconds a run).
One expected refusal is allowed for: date_from after date_to is a documented 400 that a
schema cannot express, so schemathesis's "valid data is accepted" check skips those cases,
and the test checks the 400 itself.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from core.config import Settings
from search.request import trim_query
from search.service import Searcher
from search.syntax import parse
from tests.conftest import SEEDS
from tests.corpora import build_searcher, write_evil_corpus
from tests.fakes import FakeEncoder
from web import create_app

# Per API operation and generation phase; bench/reliability.py raises it for a longer run.
MAX_EXAMPLES = int(os.environ.get("POISK_FUZZ_EXAMPLES", "200"))
# Requests sent, by operation and status: what bench/reliability.py reports.
SENT: Counter[tuple[str, int]] = Counter()
NO_INDEX = "poisk.fuzz.no_index"  # app.config flag: every search is a 503 by design


# The document as the app serves it. Serving it needs no index, so an app without one
# gives it at import time; the requests then go to an app over a real index (`app` below).
# (schemathesis.pytest.from_fixture would defer this, but it fails under pytest 9.)
schema = schemathesis.openapi.from_wsgi(
    "/api/openapi.json", create_app(Settings(index_dir=Path("/nonexistent/poisk-index")))
)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=MAX_EXAMPLES
)


@pytest.fixture(scope="module", params=["indexed", "no index"])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The app over an index of the seeds plus a corpus with markup in every field, and
    the app before any index exists (every search and article a 503)."""
    tmp = tmp_path_factory.mktemp("fuzz")
    if request.param == "no index":
        app = create_app(searcher=Searcher(tmp / "index", FakeEncoder()))
        app.config[NO_INDEX] = True
        return app
    source = Path(shutil.copytree(SEEDS, tmp / "corpus"))
    write_evil_corpus(source)
    return create_app(searcher=build_searcher(tmp, source))


def dates_inverted(case: Any) -> bool:
    """Whether a search asks for date_from after date_to: valid per parameter, a 400 together.

    OpenAPI cannot relate two parameters, so such a request is schema-valid yet refused;
    the refusal is the documented 400 and is checked for below.
    """
    query = case.query or {}
    low, high = (_iso_date(query.get(name)) for name in ("date_from", "date_to"))
    return low is not None and high is not None and low > high


def only_operators(case: Any) -> bool:
    """Whether a search's q is only query-syntax operators (`OR`, `-foo`, `""`): a string the
    schema allows, refused with the documented 400 (search/syntax.py; a pattern cannot say
    "a word outside the operators")."""
    query = case.query or {}
    q, plain = query.get("q"), query.get("syntax") == "off"
    return isinstance(q, str) and bool(trim_query(q)) and not plain and parse(trim_query(q)).empty


def _iso_date(value: object) -> date | None:
    """`value` as a date if it is one written YYYY-MM-DD, else None."""
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def is_valid(case: Any) -> bool:
    """Whether schemathesis drew this case from the document's valid data."""
    return case.meta is not None and case.meta.generation.mode.is_positive


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_generated_request_gets_a_documented_answer(case: Any, app: Flask) -> None:
    """No 500s; status, content type, headers and body all as the document says."""
    inverted = dates_inverted(case)
    operators = only_operators(case) and not inverted
    excluded = [positive_data_acceptance] if inverted or operators else []
    if app.config.get(NO_INDEX):  # the documented 503 is the answer; schemathesis flags any 5xx
        excluded.append(not_a_server_error)
    response = case.call_and_validate(app=app, excluded_checks=excluded)
    SENT[case.operation.label, response.status_code] += 1
    assert response.status_code != 500
    if inverted and is_valid(case):
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "date_from"
    if operators and is_valid(case):
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "q"
