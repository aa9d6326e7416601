"""Stages (docs/decisions/0006-stages-and-bank-config.md): `-c stage=NAME` picks one of cdk.json's
`scf:stages`; a stage other than `local` that names the simulated adapter, a plain-HTTP or loopback
URL, or a rest-signed bank without its secret fails `cdk synth` naming the bank (contract s.7)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from infra.app import cdk_json_context
from infra.constructs.config import StackConfigError, stage_config, url_problem

pytestmark = pytest.mark.infra

REST = {
    "adapter": "rest-signed",
    "url": "https://api.restbank.example/scf/v1",
    "key_id": "k1",
    "secret": "scf-test/banks/RESTBANK/signing-key",
    "accounts": [{"account_number": "ACC-1", "name": "SCF Lender"}],
}


def stages() -> dict[str, Any]:
    return copy.deepcopy(cdk_json_context()["scf:stages"])


def prod_with(code: str, bank: dict[str, Any]) -> dict[str, Any]:
    """A non-local stage `prod` whose default bank is REST and which also has `code`."""
    return {
        "prod": {
            "banks": {"default_bank": "RESTBANK", "banks": {"RESTBANK": REST, code: bank}},
        }
    }


def test_the_shipped_stages_are_local_and_example_and_both_pass_their_checks() -> None:
    shipped = stages()

    configs = {name: stage_config(name, shipped) for name in shipped}

    assert set(configs) == {"local", "example"}
    local = configs["local"]
    assert {code: bank["adapter"] for code, bank in local.banks["banks"].items()} == {
        "SIMBANK": "simulated",
        "FILEBANK": "iso20022-file",
        "RESTBANK": "rest-signed",
    }
    assert local.inbox_partners == ["platform", "FILEBANK", "RESTBANK", "SIMBANK"]
    example = configs["example"].banks["banks"]
    assert {bank["adapter"] for bank in example.values()} == {"iso20022-file", "rest-signed"}
    for code, bank in example.items():
        if "url" in bank:
            assert url_problem(bank["url"]) is None, code
        if bank["adapter"] == "rest-signed":
            assert bank["secret"] and not bank["secret"].startswith("arn:"), code


def test_an_unknown_stage_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(
        StackConfigError, match=r"stage 'nope' is not in scf:stages \(known: example, local\)"
    ):
        stage_config("nope", stages())


@pytest.mark.parametrize(
    ("bank", "refusal"),
    [
        (
            {"adapter": "simulated", "url": "https://bank.example", "accounts": REST["accounts"]},
            "stage prod: bank BADBANK: the simulated adapter is for the local stage only",
        ),
        ({**REST, "url": "http://api.bank.example"}, "stage prod: bank BADBANK: the URL .* is not https"),
        ({**REST, "url": "local:simulated-bank"}, "stage prod: bank BADBANK: the URL .* is not https"),
        ({**REST, "url": "https://127.0.0.1:8443"}, "bank BADBANK: the URL .* is a loopback address"),
        ({**REST, "url": "https://127.8.9.10/"}, "bank BADBANK: the URL .* is a loopback address"),
        ({**REST, "url": "https://localhost/x"}, "bank BADBANK: the URL .* is a loopback address"),
        ({**REST, "url": "https://bank.localhost/x"}, "bank BADBANK: the URL .* is a loopback address"),
        ({**REST, "url": "https://[::1]:8443"}, "bank BADBANK: the URL .* is a loopback address"),
        ({**REST, "url": "https://[::ffff:127.0.0.1]/"}, "bank BADBANK: the URL .* is a loopback address"),
        (
            {key: value for key, value in REST.items() if key != "secret"},
            "stage prod: bank BADBANK: the rest-signed adapter needs 'secret'",
        ),
        ({**REST, "secret": ""}, "bank BADBANK: the rest-signed adapter needs 'secret'"),
        ({**REST, "secret": "arn:aws:secretsmanager:x"}, "bank BADBANK: secret is the name"),
        (
            {"adapter": "iso20022-file", "pain008": "pain.008.001.99", "accounts": REST["accounts"]},
            "bank BADBANK: pain008 must be one of",
        ),
        (
            {"adapter": "iso20022-file", "reader_account": "12345", "accounts": REST["accounts"]},
            "bank BADBANK: reader_account is a 12-digit AWS account",
        ),
    ],
)
def test_a_stage_that_may_not_be_deployed_is_refused_naming_the_bank(
    bank: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(StackConfigError, match=refusal):
        stage_config("prod", prod_with("BADBANK", bank))


def test_the_local_stage_may_use_the_simulated_bank_and_loopback_http() -> None:
    local = stages()["local"]
    local["banks"]["banks"]["RESTBANK"]["url"] = "http://127.0.0.1:8090/rest"

    config = stage_config("local", {"local": local})

    assert config.banks["banks"]["SIMBANK"]["url"] == "local:simulated-bank"


def test_a_bank_code_is_what_the_inbox_and_the_outbound_bucket_can_use_as_a_prefix() -> None:
    with pytest.raises(StackConfigError, match="bank _sent: a bank code is"):
        stage_config("prod", prod_with("_sent", {**REST}))


def test_a_stage_setting_with_a_typo_is_refused() -> None:
    shipped = stages()
    shipped["example"]["logLevl"] = "DEBUG"

    with pytest.raises(StackConfigError, match=r"stage example: unknown settings \['logLevl'\]"):
        stage_config("example", shipped)


def test_cdk_synth_of_a_stage_naming_the_simulated_adapter_fails_naming_the_bank() -> None:
    from infra.app import synth_template

    bad = prod_with("SIMBANK", {"adapter": "simulated", "url": "http://127.0.0.1:8090", "accounts": []})
    bad["prod"]["banks"]["banks"]["SIMBANK"]["accounts"] = REST["accounts"]

    with pytest.raises(StackConfigError, match="bank SIMBANK: the simulated adapter"):
        synth_template(context={"stage": "prod", "scf:stages": json.dumps(bad)})


@pytest.fixture(scope="module")
def example_template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from infra.app import synth_template

    outdir = tmp_path_factory.mktemp("cdk-out-example")
    return synth_template(outdir=str(outdir), context={"stage": "example"})


def test_the_example_stage_synthesizes_clean_with_its_banks_secrets_and_readers(
    example_template: dict[str, Any],
) -> None:
    """cdk-nag included: an unacknowledged finding would have failed the synth."""
    resources = example_template["Resources"]
    of_type = {
        kind: [r for r in resources.values() if r["Type"] == kind]
        for kind in {r["Type"] for r in resources.values()}
    }
    example = stages()["example"]["banks"]

    (secret,) = of_type["AWS::SecretsManager::Secret"]
    readers = [r for r in of_type["AWS::IAM::Role"] if "FileReaderRole" in r["Metadata"]["aws:cdk:path"]]
    functions = [
        r
        for r in of_type["AWS::Lambda::Function"]
        if "BANKS" in r["Properties"].get("Environment", {}).get("Variables", {})
    ]

    assert secret["Properties"]["Name"] == example["banks"]["RESTBANK"]["secret"]
    assert [r["Metadata"]["aws:cdk:path"] for r in readers] == ["Scf/Banks/FILEBANKFileReaderRole/Resource"]
    assert len(functions) == 3  # ingest_settlement, disburse, apply_repayment
    for function in functions:
        assert json.loads(function["Properties"]["Environment"]["Variables"]["BANKS"]) == example


def resources_of(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def test_the_example_stage_reserves_concurrency_for_the_functions_that_call_banks(
    example_template: dict[str, Any],
) -> None:
    reserved = stages()["example"]["reservedConcurrency"]
    functions = {
        r["Metadata"]["scf:function"]: r["Properties"]
        for r in resources_of(example_template, "AWS::Lambda::Function")
        if "scf:function" in r.get("Metadata", {})
    }
    mappings = resources_of(example_template, "AWS::Lambda::EventSourceMapping")

    for name, count in reserved.items():
        assert functions[name]["ReservedConcurrentExecutions"] == count
    assert "ReservedConcurrentExecutions" not in functions["score_application"]
    limits = sorted(m["Properties"].get("ScalingConfig", {}).get("MaximumConcurrency", 0) for m in mappings)
    # Each queue's poller never invokes beyond the reservation (no throttling into the DLQ).
    assert sorted(reserved.values()) == [limit for limit in limits if limit]


def test_the_example_stage_keeps_its_logs_a_year_and_its_data_protected(
    example_template: dict[str, Any],
) -> None:
    groups = resources_of(example_template, "AWS::Logs::LogGroup")
    (table,) = resources_of(example_template, "AWS::DynamoDB::Table")
    (pool,) = resources_of(example_template, "AWS::Cognito::UserPool")

    assert {g["Properties"]["RetentionInDays"] for g in groups} == {365}
    assert (table["DeletionPolicy"], table["Properties"]["DeletionProtectionEnabled"]) == ("Retain", True)
    assert (pool["DeletionPolicy"], pool["Properties"]["DeletionProtection"]) == ("Retain", "ACTIVE")


def test_a_scratch_stage_may_let_its_data_go_with_the_stack() -> None:
    shipped = stages()
    shipped["example"].update(retainData=False, deletionProtection=False, logRetentionDays=7)

    config = stage_config("example", shipped)

    assert (config.retain_data, config.deletion_protection, config.log_retention_days) == (False, False, 7)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("logRetentionDays", 10, "logRetentionDays 10 is not one of"),
        ("retainData", "yes", "retainData must be true or false"),
        ("reservedConcurrency", {"payouts": 5}, "names 'payouts'"),
        ("reservedConcurrency", {"disburse": 1}, "disburse must be 2..1000"),
    ],
)
def test_a_stage_setting_out_of_range_is_refused(setting: str, value: Any, message: str) -> None:
    shipped = stages()
    shipped["example"][setting] = value

    with pytest.raises(StackConfigError, match=message):
        stage_config("example", shipped)
