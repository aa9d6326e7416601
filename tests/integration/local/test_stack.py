"""How the local stack builds each worker's environment from the deployed template."""

from __future__ import annotations

import pytest

from infra.local.emulator import Deployment
from infra.local.stack import worker_environment

OVERRIDES = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
    "AWS_ACCESS_KEY_ID": "testing",
    "SIMULATED_BANK_URL": "http://127.0.0.1:2",
    "SCF_CLOCK": "file:/tmp/clock",
}


def test_each_worker_gets_its_functions_environment_and_nothing_of_the_supervisor(
    deployed: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPERVISOR_SECRET", "must not leak")
    monkeypatch.setenv("TABLE_NAME", "the supervisor's own value")
    specs = {spec.name: spec for spec in deployed.template.functions()}
    ingest = worker_environment(specs["ingest_settlement"], deployed, OVERRIDES)
    disburse = worker_environment(specs["disburse"], deployed, OVERRIDES)
    for env in (ingest, disburse):
        assert "SUPERVISOR_SECRET" not in env
        assert env["TABLE_NAME"] == deployed.physical_ids["DataTable1234"]
        assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1" and env["SCF_CLOCK"] == "file:/tmp/clock"
        assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert ingest["INBOX_BUCKET"] == deployed.physical_ids["IngestInboxBucketAB12"]
    assert "INBOX_BUCKET" not in disburse and "LENDER_ACCOUNT" not in ingest
    # the template's cloud value gives way to the local bank
    assert disburse["SIMULATED_BANK_URL"] == "http://127.0.0.1:2"
    assert ingest["AWS_LAMBDA_FUNCTION_NAME"] == deployed.function_names["IngestFunctionAA"]
    assert ingest["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "1024"
    assert ingest["SCF_LOCAL_FUNCTION_ARN"].endswith(
        ":function:" + deployed.function_names["IngestFunctionAA"]
    )
