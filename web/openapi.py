"""The OpenAPI 3.1 description of the JSON API, served at /api/openapi.json.

Generated from the contract (search/contract.py): the search parameters from
SearchRequest's fields, the response schemas from the response models, so the document
cannot drift from what the API parses and answers. Every status a route can answer is
listed and objects are closed, so a fuzzer (schemathesis) can hold the service to it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from search.contract import ArticleWithParagraphs, SearchRequest, SearchResult, Stats

JSON = "application/json"
REF = "#/components/schemas/{model}"


class Health(BaseModel):
    """Liveness, and whether searches can be answered."""

    model_config = ConfigDict(extra="forbid")

    status: str = Field(json_schema_extra={"enum": ["ok"]})
    index: bool = Field(description="whether searches can be answered")
    generation: str | None
    message: str | None = Field(description="why there is no usable index, and how to build one")


class ErrorDetail(BaseModel):
    """What went wrong; `param` names the bad parameter of a 400."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        description="bad_request, not_found, method_not_allowed, index_unavailable, "
        "model_unavailable, shard_unavailable, internal_server_error, ..."
    )
    message: str
    param: str = Field(None, description="the bad parameter (400)")  # type: ignore[assignment]


class Error(BaseModel):
    """The body of every error under /api."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


def _schemas() -> dict[str, Any]:
    """JSON Schemas (2020-12) of every response model, by name."""
    models = [SearchResult, ArticleWithParagraphs, Stats, Health, Error]
    _, document = models_json_schema([(m, "serialization") for m in models], ref_template=REF)
    schemas = document["$defs"]
    for schema in schemas.values():
        _strip(schema)
    return schemas


def _strip(schema: Any) -> None:
    """Drop pydantic's titles and null defaults: noise in a published document."""
    if isinstance(schema, dict):
        if isinstance(schema.get("title"), str):  # not a property named "title"
            del schema["title"]
        if schema.get("default", 0) is None:
            schema.pop("default")
        for value in schema.values():
            _strip(value)
    elif isinstance(schema, list):
        for value in schema:
            _strip(value)


def search_parameters() -> list[dict[str, Any]]:
    """The search's query parameters: one per SearchRequest field, its schema without the
    null that stands for "absent" (a query string has no null)."""
    properties = SearchRequest.model_json_schema()["properties"]
    parameters = []
    for name, field in SearchRequest.model_fields.items():
        schema = dict(properties[name])
        branches = [b for b in schema.pop("anyOf", []) if b.get("type") != "null"]
        schema.update(branches[0] if branches else {})
        description = schema.pop("description", "")
        schema.pop("title", None)
        if schema.get("default", 0) is None:
            schema.pop("default")
        parameters.append(_query(name, schema, description, required=field.is_required()))
    return parameters


def _response(description: str, schema: str, headers: dict[str, Any] | None = None) -> dict:
    response: dict[str, Any] = {
        "description": description,
        "content": {JSON: {"schema": {"$ref": REF.format(model=schema)}}},
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
        search_parameters(),
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


SCHEMAS = _schemas()


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
