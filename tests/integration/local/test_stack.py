"""How the local stack builds each worker's environment from the deployed template."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from infra.local.emulator import Deployment
from infra.local.stack import (
    LocalStack,
    Options,
    StackAlreadyRunning,
    bank_overrides,
    describe_banks,
    fill_local_bank_urls,
    parse_options,
    read_bank_secrets,
    refuse_if_running,
    worker_environment,
)
from infra.local.state import ENV_FILE, write_json_atomically

OVERRIDES = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
    "AWS_ACCESS_KEY_ID": "testing",
    "SCF_CLOCK": "file:/tmp/clock",
}


def test_each_worker_gets_its_functions_environment_and_nothing_of_the_supervisor(
    deployed: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPERVISOR_SECRET", "must not leak")
    monkeypatch.setenv("TABLE_NAME", "the supervisor's own value")
    specs = {spec.name: spec for spec in deployed.template.functions()}
    ingest = worker_environment(specs["ingest_settlement"], deployed, OVERRIDES)
    local_banks = bank_overrides(deployed.environment_of(specs["disburse"]), "http://127.0.0.1:2")
    disburse = worker_environment(specs["disburse"], deployed, {**OVERRIDES, **local_banks})
    for env in (ingest, disburse):
        assert "SUPERVISOR_SECRET" not in env
        assert env["TABLE_NAME"] == deployed.physical_ids["DataTable1234"]
        assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1" and env["SCF_CLOCK"] == "file:/tmp/clock"
        assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert ingest["INBOX_BUCKET"] == deployed.physical_ids["IngestInboxBucketAB12"]
    assert "INBOX_BUCKET" not in disburse
    # the local placeholder gives way to the simulated bank's address (a path after it is kept)
    banks = json.loads(disburse["BANKS"])["banks"]
    assert (banks["SIMBANK"]["url"], banks["RESTBANK"]["url"]) == (
        "http://127.0.0.1:2",
        "http://127.0.0.1:2/rest",
    )
    assert json.loads(ingest["BANKS"])["banks"]["SIMBANK"]["url"] == "local:simulated-bank"  # not overridden
    assert ingest["AWS_LAMBDA_FUNCTION_NAME"] == deployed.function_names["IngestFunctionAA"]
    assert ingest["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "1024"
    assert ingest["SCF_LOCAL_FUNCTION_ARN"].endswith(
        ":function:" + deployed.function_names["IngestFunctionAA"]
    )


def test_ports_are_free_ones_unless_asked_so_two_stacks_can_run_side_by_side(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ("SCF_LOCAL_API_PORT", "SCF_LOCAL_MOTO_PORT", "SCF_LOCAL_BANK_PORT"):
        monkeypatch.delenv(variable, raising=False)
    options = parse_options([])
    assert (options.api_port, options.moto_port, options.bank_port) == (0, 0, 0)
    monkeypatch.setenv("SCF_LOCAL_API_PORT", "18080")
    assert parse_options([]).api_port == 18080
    assert parse_options(["--api-port", "18081"]).api_port == 18081


def test_a_second_stack_on_the_same_state_directory_is_refused_and_leaves_the_first_alone(
    tmp_path: Path,
) -> None:
    first = {"pid": os.getpid(), "api_url": "http://127.0.0.1:1"}  # a live process stands for it
    write_json_atomically(tmp_path / ENV_FILE, first)
    second = LocalStack(Options(directory=tmp_path), out=io.StringIO())
    with pytest.raises(StackAlreadyRunning, match="--state-dir"):
        second.start()
    second.stop()
    assert json.loads((tmp_path / ENV_FILE).read_text()) == first


def test_a_stale_env_file_does_not_block_a_start(tmp_path: Path) -> None:
    write_json_atomically(tmp_path / ENV_FILE, {"pid": 2**22 + 12345})
    refuse_if_running(tmp_path)  # no error: that process is gone


BANKS = {
    "default_bank": "SIMBANK",
    "banks": {
        "SIMBANK": {
            "adapter": "simulated",
            "url": "local:simulated-bank",
            "accounts": [{"account_number": "L1", "name": "n"}],
        },
        "FILEBANK": {
            "adapter": "iso20022-file",
            "pain001": "pain.001.001.09",
            "accounts": [{"account_number": "L2", "name": "n"}],
        },
        "RESTBANK": {
            "adapter": "rest-signed",
            "url": "https://api.restbank.example",
            "key_id": "k",
            "secret": "s",
            "accounts": [{"account_number": "L3", "name": "n"}],
        },
    },
}


def test_only_placeholder_urls_are_filled_with_the_simulated_banks_address() -> None:
    filled = fill_local_bank_urls(BANKS, "http://127.0.0.1:9/")

    assert filled["banks"]["SIMBANK"]["url"] == "http://127.0.0.1:9"
    assert filled["banks"]["RESTBANK"]["url"] == "https://api.restbank.example"
    assert filled["default_bank"] == "SIMBANK" and BANKS["banks"]["SIMBANK"]["url"] == "local:simulated-bank"
    assert bank_overrides({"TABLE_NAME": "t"}, "http://127.0.0.1:9") == {}  # a function without banks


def test_env_json_lists_each_bank_with_its_adapter_url_and_accounts() -> None:
    described = describe_banks(fill_local_bank_urls(BANKS, "http://127.0.0.1:9"))

    assert described == {
        "FILEBANK": {"adapter": "iso20022-file", "accounts": [{"account_number": "L2", "name": "n"}]},
        "RESTBANK": {
            "adapter": "rest-signed",
            "url": "https://api.restbank.example",
            "accounts": [{"account_number": "L3", "name": "n"}],
        },
        "SIMBANK": {
            "adapter": "simulated",
            "url": "http://127.0.0.1:9",
            "accounts": [{"account_number": "L1", "name": "n"}],
        },
    }


def test_the_rest_banks_secret_is_created_in_the_emulator_and_read_back(deployed: Deployment) -> None:
    specs = {spec.name: spec for spec in deployed.template.functions()}
    banks = json.loads(deployed.environment_of(specs["disburse"])["BANKS"])

    secrets = read_bank_secrets(banks, deployed)

    assert set(secrets) == {"k-local"} and len(secrets["k-local"]) >= 32
