"""One synth per test run: synth with cdk-nag takes 10-20 s on 2 cores.

Under xdist the first worker synthesizes into the run's shared temporary directory (under a file
lock) and the others read its template and validation report.
"""

from __future__ import annotations

import fcntl
import json
import os
from typing import Any

import pytest
from synthesized_stack import Synthesized

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Synthesized:
    from infra.app import synth_template

    if worker_id == "master":  # not under xdist
        outdir = tmp_path_factory.mktemp("cdk-out")
        return Synthesized(template=synth_template(str(outdir)), outdir=outdir)
    shared = tmp_path_factory.getbasetemp().parent
    outdir = shared / "cdk-out"
    template_file = shared / "scf-template.json"
    with (shared / "scf-synth.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not template_file.exists():
            template_file.write_text(json.dumps(synth_template(str(outdir))))
    return Synthesized(template=json.loads(template_file.read_text()), outdir=outdir)


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_json(synthesized.template)
