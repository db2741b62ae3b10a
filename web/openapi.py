"""The OpenAPI 3.1 description of the JSON API, served at /api/openapi.json.

Written by hand to match web/api.py exactly: every parameter's type, range and enum, every
status a route can answer, and response schemas without extra keys, so that a fuzzer
(schemathesis) can hold the service to it. Schemas are JSON Schema 2020-12, so a nullable
value is `type: [..., "null"]`.
"""

from __future__ import annotations

from typing import Any

from search.fusion import DEFAULT_ALPHA, FUSIONS
from search.service import MAX_K, MAX_OFFSET, MAX_QUERY_CHARS, MODES

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """A closed object schema: the listed keys, all required unless named optional."""
    return {
        "type": "object",
        "properties": properties,
        "required": [key for key in properties if key not in optional],
        "additionalProperties": False,
    }


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_DATE = {"type": ["string", "null"], "format": "date"}

SCHEMAS: dict[str, Any] = {
    "LegHit": _obj({"rank": {"type": "integer", "minimum": 1}, "score": {"type": "number"}}),
    "Hit": _obj(
        {
            "rank": {"type": "integer", "minimum": 1},
            "id": {"type": "string", "description": '"<article_id>:<n>", n from 0'},
            "article_id": {"type": "string"},
            "title": {"type": "string"},
            "date": NULLABLE_DATE,
            "url": NULLABLE_STRING,
            "text": {"type": "string", "description": "the whole paragraph, plain text"},
            "snippet": {
                "type": "string",
                "description": "HTML-escaped text; the only markup is <mark> around matches",
            },
            "score": {"type": "number"},
            "bm25": _nullable(_ref("LegHit")),
            "semantic": _nullable(_ref("LegHit")),
        }
    ),
    "SearchResult": _obj(
        {
            "query": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS},
            "mode": {"type": "string", "enum": list(MODES)},
            "fusion": {"type": "string", "enum": list(FUSIONS)},
            "alpha": {
                "type": ["number", "null"],
                "minimum": 0,
                "maximum": 1,
                "description": "semantic weight in convex fusion; null otherwise",
            },
            "k": {"type": "integer", "minimum": 1, "maximum": MAX_K},
            "offset": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
            "total": {"type": "integer", "minimum": 0},
            "took_ms": {"type": "number", "minimum": 0},
            "results": {"type": "array", "items": _ref("Hit"), "maxItems": MAX_K},
        }
    ),
    "Article": _obj(
        {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "date": NULLABLE_DATE,
            "url": NULLABLE_STRING,
            "rubric": NULLABLE_STRING,
            "source": {"type": "string", "description": "file it came from, in the corpus"},
        }
    ),
    "ArticleParagraph": _obj(
        {
            "id": {"type": "string"},
            "n": {"type": "integer", "minimum": 0},
            "text": {"type": "string"},
        }
    ),
    "ArticleWithParagraphs": _obj(
        {
            "article": _ref("Article"),
            "paragraphs": {"type": "array", "items": _ref("ArticleParagraph")},
        }
    ),
    "Stats": _obj(
        {
            "articles": {"type": "integer", "minimum": 0},
            "paragraphs": {"type": "integer", "minimum": 0},
            "model": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "fingerprint": {"type": "string"},
                    "dtype": {"type": "string", "enum": ["float32", "bfloat16"]},
                    "dimension": {"type": "integer", "minimum": 1},
                },
                "required": ["name", "fingerprint", "dimension"],
            },
            "cross_model": {
                "description": "the cross-lingual dense model; null when the index has none",
                "type": ["object", "null"],
                "properties": {
                    "name": {"type": "string"},
                    "fingerprint": {"type": "string"},
                    "dimension": {"type": "integer", "minimum": 1},
                },
                "required": ["name", "fingerprint", "dimension"],
            },
            "built_at": {"type": "string", "format": "date-time"},
            "generation": {"type": "string"},
            "vectors": {"type": "string", "enum": ["flat", "hnsw"]},
            "source": {"type": "string", "description": "folder the index was built from"},
        }
    ),
    "Health": _obj(
        {
            "status": {"type": "string", "enum": ["ok"]},
            "index": {"type": "boolean", "description": "whether searches can be answered"},
            "generation": NULLABLE_STRING,
            "message": {
                "type": ["string", "null"],
                "description": "why there is no usable index, and how to build one",
            },
        }
    ),
    "Error": _obj(
        {
            "error": _obj(
                {
                    "code": {
                        "type": "string",
                        "description": "bad_request, not_found, method_not_allowed, "
                        "index_unavailable, model_unavailable, internal_server_error, ...",
                    },
                    "message": {"type": "string"},
                    "param": {"type": "string", "description": "the bad parameter (400)"},
                },
                optional=("param",),
            )
        }
    ),
}


def _response(description: str, schema: str, headers: dict[str, Any] | None = None) -> dict:
    response: dict[str, Any] = {
        "description": description,
        "content": {JSON: {"schema": _ref(schema)}},
    }
    if headers:
        response["headers"] = headers
    return response


ALLOW = {"Allow": {"description": "the methods the path accepts", "schema": {"type": "string"}}}
ERRORS = {
    "405": _response("Method not allowed", "Error", ALLOW),
    "414": _response("URL too long", "Error"),
    "500": _response("Unexpected error (logged; no details)", "Error"),
}
UNAVAILABLE = {"503": _response("No usable index (the message says how to build one)", "Error")}


def _query(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


SEARCH_PARAMETERS = [
    _query(
        "q",
        {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS, "pattern": r"\S"},
        "the question, in any language; not only whitespace",
        required=True,
    ),
    _query("k", {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 10}, "page size"),
    _query(
        "offset",
        {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
        "results to skip",
    ),
    _query("mode", {"type": "string", "enum": list(MODES), "default": MODES[0]}, "legs to run"),
    _query(
        "fusion",
        {"type": "string", "enum": list(FUSIONS), "default": FUSIONS[0]},
        "how hybrid mode fuses the legs",
    ),
    _query(
        "alpha",
        {"type": "number", "minimum": 0, "maximum": 1, "default": DEFAULT_ALPHA},
        "weight of the semantic leg in coverage and convex fusion (default 0.8 and 0.5; "
        "ignored by the RRF fusions)",
    ),
    _query("date_from", {"type": "string", "format": "date"}, "earliest article date"),
    _query("date_to", {"type": "string", "format": "date"}, "latest article date (>= date_from)"),
]


def _get(summary: str, ok: dict[str, Any], extra: dict[str, Any], params: list | None = None):
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {"200": ok, **extra, **ERRORS},
    }
    if params:
        operation["parameters"] = params
    return {"get": operation}


PATHS = {
    "/api/search": _get(
        "Search paragraphs: BM25 and embeddings, fused",
        _response("One page of results", "SearchResult"),
        {"400": _response("A bad parameter, named in `param`", "Error"), **UNAVAILABLE},
        SEARCH_PARAMETERS,
    ),
    "/api/articles/{article_id}": _get(
        "An article and its paragraphs",
        _response("The article", "ArticleWithParagraphs"),
        {"404": _response("No article with this id", "Error"), **UNAVAILABLE},
        [
            {
                "name": "article_id",
                "in": "path",
                "required": True,
                "description": "may contain '/' (articles from nested folders)",
                "schema": {"type": "string", "minLength": 1},
            }
        ],
    ),
    "/api/stats": _get("What the index holds", _response("Index statistics", "Stats"), UNAVAILABLE),
    "/api/health": _get(
        "Liveness; 200 even without an index", _response("The process is up", "Health"), {}
    ),
    "/api/openapi.json": _get(
        "This document",
        {"description": "OpenAPI 3.1", "content": {JSON: {"schema": {"type": "object"}}}},
        {},
    ),
}


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "poisk",
            "version": "1.0.0",
            "description": "Hybrid (BM25 + multilingual embeddings) search over news "
            "articles, paragraph by paragraph.",
        },
        "paths": PATHS,
        "components": {"schemas": SCHEMAS},
    }
