"""The OpenAPI 3 description of the endpoint, generated from the parameter table
(``imgfilter.front.params``): names, types, enums, patterns, repeatable parameters,
the response's fields with their wire types, and the error bodies."""

from __future__ import annotations

from typing import Any

from imgfilter import __version__
from imgfilter.front import codes
from imgfilter.front import params as P
from imgfilter.front.check import Options
from imgfilter.serve.http import HEALTH_PATH, IMAGES_PATH, MAX_URL_LENGTH, PROJECT_ID_PATTERN, http_code

K = P.Kind
_UUID = P.UUID_RE.pattern
_TRUE = "[Tt][Rr][Uu][Ee]"
_FALSE = "[Ff][Aa][Ll][Ss][Ee]"


def _anchored(pattern: str) -> str:
    return f"^(?:{pattern})$"


def param_schema(p: P.Param) -> dict[str, Any]:
    """The JSON Schema of one value of ``p`` (what the checker accepts)."""
    k = p.kind
    if k in (K.ENUM, K.SORT_KEY, K.SORT_DIR, K.MEMBER):
        return {"type": "string", "enum": [*p.choices, *(a for a in p.aliases if a not in p.choices)]}
    if k is K.BOOL:
        return {"type": "string", "pattern": _anchored(f"{_TRUE}|{_FALSE}"), "example": "true"}
    if k is K.TRUE_ONLY:
        return {"type": "string", "pattern": _anchored(_TRUE), "example": "true"}
    if k in (K.INT, K.LIMIT):
        return {"type": "integer", "minimum": p.minimum, "maximum": p.maximum}
    if k in (K.UUID, K.MARKER):
        return {"type": "string", "format": "uuid", "pattern": _anchored(_UUID)}
    if k is K.EPS:
        return {"type": "string", "pattern": _anchored(f"0|{P.ALL_GRANTED_EPS}|{_UUID}")}
    if k in (K.TEXT, K.FLAVOR):
        schema: dict[str, Any] = {"type": "string", "minLength": p.min_len, "maxLength": p.max_len}
        if p.pattern:
            schema["pattern"] = _anchored(f"{p.pattern}*")
        return schema
    if k is K.TAG:
        return {"type": "string", "minLength": 1, "example": "env=prod"}
    ops = "|".join(P.TIME_OPS)
    return {"type": "string", "pattern": f"^(?:(?:{ops}):)?[0-9]", "example": "gte:2018-10-28T10:00:00Z"}


def _parameter(p: P.Param, options: Options | None) -> dict[str, Any]:
    schema = param_schema(p)
    doc = f"{p.doc} Accepts {p.domain}. Error code {p.code}."
    if p.kind is K.FLAVOR and (options is None or options.flavors is None):
        doc += " This service has no flavor catalog: the parameter is rejected."
    # an empty value (`name=`) is ignored, with a warning
    out: dict[str, Any] = {"name": p.name, "in": "query", "required": False, "description": doc,
                           "style": "form", "explode": True, "allowEmptyValue": True}
    if p.repeatable:
        out["schema"] = {"type": "array", "items": schema}
    else:
        out["schema"] = schema
    return out


_WIRE: dict[P.Wire, dict[str, Any]] = {
    P.Wire.STRING: {"type": "string"},
    P.Wire.YES_NO: {"type": "string", "enum": ["true", "false"]},
    P.Wire.BOOLEAN: {"type": "boolean"},
    P.Wire.INTEGER: {"type": "integer"},
    P.Wire.TIME: {"type": "string", "format": "date-time", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"},
    P.Wire.STRINGS: {"type": "array", "items": {"type": "string"}},
}


def _image() -> dict[str, Any]:
    props = {f.name: {**_WIRE[f.wire], "nullable": True} for f in P.RESPONSE_FIELDS_LIST}
    props["id"] = {"type": "string"}
    return {"type": "object", "required": ["id"], "properties": props, "additionalProperties": True,
            "description": "An image in IMS's wire form; other fields pass through; never members."}


def _error(status: int, description: str) -> dict[str, Any]:
    return {"description": description, "headers": {"X-Request-Id": {"$ref": "#/components/headers/RequestId"}},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def openapi(options: Options | None = None, *, max_url_length: int = MAX_URL_LENGTH) -> dict[str, Any]:
    """The OpenAPI 3.0 document of ``GET /v2/cloudimages`` (and ``/healthz``) of a
    service with these ``options`` and ``max_url_length``."""
    limit = ""
    if options is not None and (options.default_limit is not None or options.max_limit is not None):
        limit = (f" This service pages by {options.default_limit or 'all'} images by default and at most "
                 f"{options.max_limit or 'all'} (a larger limit is clamped).")
    family = P.SUPPORT_FAMILY
    parameters = [
        {"name": "X-Project-Id", "in": "header", "required": True, "schema": {
            "type": "string", "pattern": _anchored(PROJECT_ID_PATTERN)},
         "description": "The caller's project, set by the authenticating proxy in front of the service."},
        {"name": "X-Roles", "in": "header", "required": False, "schema": {"type": "string"},
         "description": "The caller's roles, comma-separated, set by the proxy; `admin` sees every image."},
        *(_parameter(p, options) for p in P.PARAMS_LIST),
    ]
    ok_headers = {"X-Request-Id": {"$ref": "#/components/headers/RequestId"}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "imgfilter: IMS-compatible image list", "version": __version__,
                 "description": "Huawei Cloud IMS `GET /v2/cloudimages`, served by imgfilter."},
        "paths": {
            IMAGES_PATH: {"get": {
                "operationId": "listImages",
                "summary": "List images",
                "description": (
                    "Filters, sorts and pages the images the caller may see. Unknown parameters are "
                    f"rejected (400). Besides the parameters listed, the open family `{family.name}` "
                    f"({family.doc}) is accepted." + limit),
                "parameters": parameters,
                "x-imgfilter-parameter-families": [{"pattern": P.SUPPORT_FAMILY_RE.pattern,
                                                    "schema": param_schema(family)}],
                "responses": {
                    "200": {"description": "A page of images.", "headers": ok_headers, "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ListImagesResponse"}}}},
                    "400": _error(400, "The query is wrong: every error, each with its IMS code (IMG.xxxx)."),
                    "401": _error(401, f"No caller identity (X-Project-Id): code {http_code(401)}."),
                    "403": _error(403, f"Not allowed for this caller: {codes.FORBIDDEN}."),
                    "405": _error(405, f"Only GET: code {http_code(405)}, with an Allow header."),
                    "414": _error(414, f"The URL is longer than {max_url_length} characters: {http_code(414)}."),
                    "500": _error(500, f"A bug: {http_code(500)}, no details."),
                    "503": _error(503, f"The image database is unavailable: {http_code(503)}; retry."),
                },
            }},
            HEALTH_PATH: {"get": {
                "operationId": "health", "summary": "Liveness and database reachability",
                "responses": {
                    "200": {"description": "Ready.", "headers": ok_headers,
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
                    "503": {"description": "The image database is unavailable.", "headers": ok_headers,
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
                },
            }},
        },
        "components": {
            "headers": {"RequestId": {"description": "This request's id (in the access log too).",
                                      "schema": {"type": "string"}, "required": True}},
            "schemas": {
                "Image": _image(),
                "ListImagesResponse": {"type": "object", "required": ["images", "page_info"], "properties": {
                    "images": {"type": "array", "items": {"$ref": "#/components/schemas/Image"}},
                    "page_info": {"type": "object", "required": ["next_marker"], "properties": {
                        "next_marker": {"type": "string", "nullable": True,
                                        "description": "The last image's id when more follow, else null."}}},
                }},
                "Error": {"type": "object", "required": ["error"], "properties": {
                    "error": {"type": "object", "required": ["code", "message"], "properties": {
                        "code": {"type": "string", "example": codes.BAD_VALUE}, "message": {"type": "string"}}},
                    "errors": {"type": "array", "description": "Every error of the query (400, 403).",
                               "items": {"type": "object", "properties": {
                                   "code": {"type": "string"}, "message": {"type": "string"},
                                   "param": {"type": "string", "nullable": True},
                                   "value": {"type": "string", "nullable": True},
                                   "span": {"type": "array", "items": {"type": "integer"}},
                                   "hint": {"type": "string", "nullable": True},
                                   "severity": {"type": "string"}}}},
                }},
                "Health": {"type": "object", "required": ["status"],
                           "properties": {"status": {"type": "string", "enum": ["ok", "unavailable"]}}},
            },
        },
    }
