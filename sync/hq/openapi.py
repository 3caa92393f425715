"""HQ's OpenAPI document, exact: every status a route can answer, and request schemas that take
what HQ takes and nothing it then refuses (tests/sync/test_hq_openapi_fuzz.py fuzzes it with
schemathesis, with a station and a reader token).

- `errors(...)`: a route's error answers, each `{"detail": "..."}` (Problem) with what it means;
- `exact_openapi(app)`: the app's `openapi()`, completed with what FastAPI cannot see: the events
  body (validated by the route itself, from bytes), the `X-Dockstation-Protocol` header as the
  one string HQ speaks, required on the routes that need it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

from sync.protocol import PROTOCOL_HEADER, SUPPORTED, EventBatch


class Problem(BaseModel):
    """An error answer: what went wrong and, where there is one, what to do."""

    detail: str


MEANING = {
    400: "a request HQ cannot read: the X-Dockstation-Protocol header missing or not a version HQ speaks",
    401: "no token, a token HQ does not know, or a revoked one (checked before the body is read)",
    403: "a token of the wrong kind for this route",
    404: "not found",
    408: "the request body did not arrive in time (2 minutes): send it again",
    409: "in conflict with what HQ holds",
    410: "gone",
    413: "request body larger than HQ takes (32 MB), refused before it is read",
    415: "a body of a media type this route does not take",
    503: "HQ's database does not answer, or its configuration is invalid: try again later",
}
VALIDATION = {"description": "the request does not match this document (pydantic's error list)",
              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}}


def errors(*codes: int, **meaning: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each code with the Problem model; `meaning` overrides (`e403=...`)."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        out[code] = VALIDATION if code == 422 else {"model": Problem,
                                                     "description": meaning.get(f"e{code}", MEANING[code])}
    return out


def refused(location: str, name: str, message: str) -> RequestValidationError:
    """A 422 in FastAPI's own shape, with a reason worded for people: for the parameters whose
    exact pattern is in the document (`json_schema_extra`) but too long to quote back at a caller."""
    return RequestValidationError([{"loc": (location, name), "msg": message, "type": "value_error"}])


def _dependency_calls(route: APIRoute) -> set[Callable[..., Any]]:
    calls, todo = set(), list(route.dependant.dependencies)
    while todo:
        dep = todo.pop()
        if dep.call is not None:
            calls.add(dep.call)
        todo.extend(dep.dependencies)
    return calls


def exact_openapi(app: FastAPI, *, header_required_by: Callable[..., Any]) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = FastAPI.openapi(app)
        batch = EventBatch.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema["components"]["schemas"]
        components.update(batch.pop("$defs", {}))
        components["EventBatch"] = batch
        required = {(r.path, m.lower()) for r in app.routes if isinstance(r, APIRoute)
                    for m in r.methods if header_required_by in _dependency_calls(r)}
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                for param in operation.get("parameters", []):
                    if param["in"] == "header" and param["name"].lower() == PROTOCOL_HEADER.lower():
                        param["schema"] = {"type": "string", "enum": [str(v) for v in sorted(SUPPORTED)],
                                           "title": "protocol version"}
                        param["required"] = (path, method) in required
        app.openapi_schema = schema
        return schema

    return openapi


# The events route validates its body itself (once, from bytes): say what it takes.
BATCH_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/EventBatch"}}}}}
