"""The local stack's browsable API documentation: Swagger UI at `/docs`, reading the OpenAPI document
that the API itself serves (`GET /openapi.json`, a MOCK route of the template: infra/openapi.py).

Swagger UI's files are the ones the pinned aws-lambda-powertools package ships for its own offline
Swagger UI, served from here: nothing is fetched from the internet, by the stack or by the browser.
docs/decisions/0004-openapi.md.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

DOCS_PATH = "/docs"
_ASSETS = {
    f"{DOCS_PATH}/swagger-ui-bundle.min.js": ("swagger-ui-bundle.min.js", "application/javascript"),
    f"{DOCS_PATH}/swagger-ui.min.css": ("swagger-ui.min.css", "text/css"),
}

# Relative URLs, so the page works at /docs and under the stage prefix (/prod/docs) alike.
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>scf API (local stack)</title>
  <link rel="stylesheet" href="docs/swagger-ui.min.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.min.js"></script>
  <script>
    // Authorize with a token from `scf local token --supplier ID` or `scf local token --ops`.
    window.ui = SwaggerUIBundle({
      url: "openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: true,
      presets: [SwaggerUIBundle.presets.apis],
    });
  </script>
</body>
</html>
"""


def swagger_ui_dir() -> Path:
    """Where aws-lambda-powertools keeps Swagger UI (found without importing that subpackage, whose
    import pulls in pydantic)."""
    spec = importlib.util.find_spec("aws_lambda_powertools")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("aws-lambda-powertools is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "event_handler" / "openapi" / "swagger_ui"


def page() -> bytes:
    return PAGE.encode("utf-8")


@cache
def asset(path: str) -> tuple[bytes, str] | None:
    """(content, content type) of a Swagger UI file under /docs/, None for any other path."""
    found = _ASSETS.get(path)
    if found is None:
        return None
    name, content_type = found
    return (swagger_ui_dir() / name).read_bytes(), content_type
