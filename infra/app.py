"""The CDK app: `cdk synth` runs `main()`; the local stack and the tests call `synth_template()`.

Every synth runs the cdk-nag AwsSolutions and NIST 800-53 rev 5 checks; an unacknowledged finding
fails the synth.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks

from infra.constructs.common import REPO_ROOT
from infra.constructs.config import StackConfig
from infra.stack import ScfStack

CDK_JSON = REPO_ROOT / "cdk.json"
LAYER_BUILD_SCRIPT = REPO_ROOT / "layers" / "deps" / "build.py"
STACK_ID = "Scf"
CLI_DEFAULT_CONTEXT = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True}


class SynthError(RuntimeError):
    pass


def _layer_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scf_deps_layer_build", LAYER_BUILD_SCRIPT)
    if spec is None or spec.loader is None:
        raise SynthError(f"cannot load {LAYER_BUILD_SCRIPT}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ensure_deps_layer() -> Path:
    """The deps layer directory, built first if missing or stale (a no-op when up to date)."""
    builder = _layer_builder()
    try:
        return Path(builder.build())
    except builder.LayerBuildError as exc:
        raise SynthError(
            "the Lambda deps layer (build/deps-layer-<fingerprint>) is missing or stale and could not be "
            f"built: {exc}\n"
            "Build it with `make layer` (needs PyPI) and synth again."
        ) from exc


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


def build_app(outdir: str | None = None, context: dict[str, Any] | None = None) -> tuple[App, ScfStack]:
    """The app with its one stack. Outside the CDK CLI, the context comes from cdk.json."""
    deps_layer_dir = ensure_deps_layer()
    if "CDK_CONTEXT_JSON" in os.environ or "CDK_OUTDIR" in os.environ:
        app = App(outdir=outdir)  # the CLI hands over cdk.json's context itself
    else:
        # Path and asset metadata (`aws:cdk:path`, `aws:asset:path`), which the CLI turns on itself:
        # the same template either way, and the local stack and the tests name resources by them.
        app = App(
            outdir=outdir,
            context={**CLI_DEFAULT_CONTEXT, **cdk_json_context(), **(context or {})},
        )
    Validations.of(app).add_plugins(AwsSolutionsChecks(verbose=True), NIST80053R5Checks(verbose=True))
    config = StackConfig.from_context(app)
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    env = Environment(account=account, region=region) if account and region else None
    stack = ScfStack(
        app,
        STACK_ID,
        stack_name=config.stack_name,
        description="scf: serverless supply-chain finance (walking skeleton)",
        config=config,
        deps_layer_dir=deps_layer_dir,
        env=env,
    )
    return app, stack


def synth_template(outdir: str | None = None, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """Synthesize (cdk-nag included) and return the stack's CloudFormation template.

    `outdir` receives the cloud assembly (assets staged there); a temporary directory by default.
    """
    if outdir is None:
        outdir = tempfile.mkdtemp(prefix="scf-cdk-out-")
    app, stack = build_app(outdir=outdir, context=context)
    assembly = app.synth()
    template: dict[str, Any] = assembly.get_stack_artifact(stack.artifact_id).template
    return template


def main() -> None:
    """`cdk synth` (the CLI sets CDK_OUTDIR) or `make synth` (into cdk.out/)."""
    outdir = None if "CDK_OUTDIR" in os.environ else str(REPO_ROOT / "cdk.out")
    app, stack = build_app(outdir=outdir)
    assembly = app.synth()
    if outdir is not None:
        print(f"synthesized {Path(assembly.directory) / stack.template_file}")


if __name__ == "__main__":
    main()
