"""The API's OpenAPI document: FastAPI's, with short operation ids and typed problems.

- An operation's id is its route's name (the function's): ``get_account``, not FastAPI's
  ``get_account_v1_accounts__account_id__get``; generated clients call it by that name.
- A refusal is described as what it is: ``application/problem+json`` with the
  ``Problem`` schema (FastAPI puts the schema under the route's own media type beside it).

docs/openapi.json is this document, committed (a test fails when they differ):
``python -m service.http.openapi > docs/openapi.json`` writes it again.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from service.http.problems import PROBLEM_JSON

PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}


def operation_id(route: APIRoute) -> str:
    return route.name


def _typed_problems(spec: dict[str, Any]) -> dict[str, Any]:
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            for response in operation.get("responses", {}).values():
                content = response.get("content", {})
                if PROBLEM_JSON not in content:
                    continue
                for media_type in [m for m in content if m != PROBLEM_JSON]:
                    if content[media_type].get("schema") == PROBLEM_SCHEMA:
                        content[PROBLEM_JSON] = content.pop(media_type)
    return spec


def _in_order(paths: dict[str, Any], order: list[str]) -> dict[str, Any]:
    """``paths`` with those named in ``order`` first, in that order; the others after."""
    return {
        **{path: paths[path] for path in order if path in paths},
        **{path: item for path, item in paths.items() if path not in order},
    }


def install(app: FastAPI, documented: Sequence[APIRouter] = ()) -> None:
    """Make ``app.openapi()`` answer the document described above (built once), its paths
    in the order of the ``documented`` routers' (which may differ from the order the app
    tries them in for a request)."""
    build = app.openapi
    order = list(
        dict.fromkeys(
            route.path
            for router in documented
            for route in router.routes
            if isinstance(route, APIRoute) and route.include_in_schema
        )
    )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = _typed_problems(build())
            spec["paths"] = _in_order(spec.get("paths", {}), order)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document() -> str:
    """The document of an app with the default settings, as committed in docs/."""
    from service.bootstrap import bootstrap
    from service.config.settings import load_settings
    from service.http.app import create_app

    with tempfile.TemporaryDirectory() as folder:
        svc = bootstrap(load_settings({}, data_dir=folder))
        try:
            app = create_app(svc.read_side, run_projections=False, settings=svc.settings)
            spec = app.openapi()
        finally:
            svc.close()
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(document())
