"""The deps layer build: complete for the Lambda platform, and synth refuses clearly without it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]


def load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deps_layer_build", ROOT / "layers" / "deps" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_layer_pins_match_pyproject() -> None:
    import tomllib

    from packaging.requirements import Requirement

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime = {
        Requirement(r).name.lower(): str(Requirement(r).specifier)
        for r in pyproject["project"]["dependencies"]
    }
    lines = (ROOT / "layers" / "deps" / "requirements.txt").read_text().splitlines()
    layer = {
        Requirement(line).name.lower(): str(Requirement(line).specifier)
        for line in lines
        if line and not line.startswith("#")
    }
    for name in ("aws-lambda-powertools", "aws-xray-sdk", "pynamodb", "defusedxml", "mt-940"):
        assert layer[name] == runtime[name]
    assert "boto3" not in layer and "botocore" not in layer  # shipped by the Lambda runtime


def test_built_layer_is_for_the_lambda_platform_and_up_to_date() -> None:
    builder = load_builder()
    layer = builder.build()  # a no-op when the stamp matches
    assert builder.is_up_to_date()
    site = Path(layer) / "python"
    for package in ("aws_lambda_powertools", "aws_xray_sdk", "pynamodb", "defusedxml", "mt940", "requests"):
        assert (site / package).is_dir(), package
    assert not (site / "botocore").exists()
    native = list(site.rglob("*.so"))
    assert all("aarch64" in so.name for so in native), native
    builder._check_closure(site)  # every dependency is in the layer or in the runtime


def test_synth_names_the_fix_when_the_layer_cannot_be_built(monkeypatch: pytest.MonkeyPatch) -> None:
    import infra.app

    class Broken(RuntimeError):
        pass

    class FakeBuilder:
        LayerBuildError = Broken

        @staticmethod
        def build() -> Path:
            raise Broken("no index reachable")

    monkeypatch.setattr(infra.app, "_layer_builder", lambda: FakeBuilder)
    with pytest.raises(infra.app.SynthError, match="make layer"):
        infra.app.ensure_deps_layer()
