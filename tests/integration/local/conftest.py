"""Fixtures of the local stack's tests: the hand-made fixture template (template reading only; the
local stack itself always deploys the synthesized one), an embedded moto server, the real synth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local.emulator import Deployment, Emulator, deploy
from infra.local.template import Template

FIXTURE = Path(__file__).with_name("fixture_template.json")


@pytest.fixture
def fixture_body() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(FIXTURE.read_text())
    return body


@pytest.fixture
def fixture_template(fixture_body: dict[str, Any]) -> Template:
    return Template(fixture_body)


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    emulator = Emulator(port=0)
    endpoint = emulator.start()
    yield endpoint
    requests.post(f"{endpoint}/moto-api/reset", timeout=10)  # moto's state is per process
    emulator.stop()


@pytest.fixture
def deployed(fixture_template: Template, moto_endpoint: str) -> Deployment:
    return deploy(fixture_template, moto_endpoint, "us-east-1", stack_name="t")


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The CDK app's real template (skipped only while infra/app.py does not exist yet)."""
    try:
        from infra.app import synth_template
    except ImportError as exc:
        pytest.skip(f"infra.app is not there yet: {exc}")
    outdir = tmp_path_factory.mktemp("cdk-out")
    return Template(synth_template(outdir=str(outdir)), outdir)
