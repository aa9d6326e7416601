"""Reading the template: functions, triggers, pipes, routes, what goes to moto; with the hand-made
fixture and with the CDK app's real synthesized template."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from infra.local.emulator import supported_types
from infra.local.template import (
    Resolver,
    Template,
    TemplateError,
    UnresolvedReference,
    references,
    render_mapping_template,
    snake_name,
)

EXPECTED_FUNCTIONS = {"ingest_settlement", "score_application", "disburse", "apply_repayment"}


def test_functions_are_found_by_their_tag_or_metadata_and_carry_their_settings(
    fixture_template: Template,
) -> None:
    functions = {spec.name: spec for spec in fixture_template.functions()}
    # the CDK notification handler has neither tag nor asset of ours: not one of our functions
    assert set(functions) == {"ingest_settlement", "disburse", "score_application"}
    ingest = functions["ingest_settlement"]
    assert (ingest.timeout, ingest.memory, ingest.handler) == (30, 1024, "handler.handler")
    assert ingest.code_dir.parts[-2:] == ("functions", "ingest_settlement")
    assert ingest.environment["TABLE_NAME"] == {"Ref": "DataTable1234"}
    assert functions["score_application"].memory == 128  # Lambda's default when the template is silent


def test_queue_triggers_follow_the_event_source_mappings(fixture_template: Template) -> None:
    triggers = {trigger.function: trigger for trigger in fixture_template.queue_triggers()}
    assert triggers["ingest_settlement"].queue_logical_id == "IngestSettlementFilesQueue11"
    assert triggers["ingest_settlement"].batch_size == 1
    assert triggers["disburse"].batch_size == 10
    assert all(trigger.report_batch_item_failures for trigger in triggers.values())


def test_pipes_carry_source_target_and_the_parsed_filter(fixture_template: Template) -> None:
    (pipe,) = fixture_template.pipes()
    assert (pipe.source_table, pipe.source_attribute) == ("DataTable1234", "StreamArn")
    assert pipe.target_queue == "DisbursementDisbursementsQueue55"
    assert pipe.patterns == [
        {
            "eventName": ["INSERT"],
            "dynamodb": {"NewImage": {"kind": {"S": ["OUTBOX"]}, "target": {"S": ["disbursements"]}}},
        }
    ]


def test_routes_are_built_from_the_resource_chain(fixture_template: Template) -> None:
    routes = {(route.method, route.path): route for route in fixture_template.routes()}
    assert set(routes) == {
        ("GET", "/v1/credit-line"),
        ("GET", "/v1/loans/{loan_id}"),
        ("POST", "/v1/loans/{loan_id}/repayments"),
        ("OPTIONS", "/v1/loans"),
    }
    assert routes[("GET", "/v1/credit-line")].function == "score_application"
    assert routes[("GET", "/v1/credit-line")].authorization_type == "COGNITO_USER_POOLS"
    assert routes[("OPTIONS", "/v1/loans")].function is None
    assert routes[("OPTIONS", "/v1/loans")].mock_response == {
        "statusCode": 204,
        "headers": {"Access-Control-Allow-Origin": "*"},
        "body": b"",
    }
    match = routes[("POST", "/v1/loans/{loan_id}/repayments")].pattern.match("/v1/loans/L-1/repayments")
    assert match is not None and list(match.groupdict().values()) == ["L-1"]
    assert fixture_template.stage_name() == "v1stage"


def test_what_moto_gets_leaves_out_lambda_custom_unsupported_and_their_dependents(
    fixture_template: Template,
) -> None:
    substitutes: dict[Any, Any] = {}
    for spec in fixture_template.functions():
        substitutes[spec.logical_id] = spec.name
        substitutes[(spec.logical_id, "Arn")] = f"arn:{spec.name}"
    body, dropped = fixture_template.deployable(supported_types(), substitutes)
    kept = set(body["Resources"])
    assert {"DataTable1234", "IngestInboxBucketAB12"} <= kept
    assert {"IngestSettlementFilesQueue11", "DisbursementDisbursementsQueue55", "FunctionRole66"} <= kept
    for logical_id in [
        "IngestFunctionAA",
        "SharedLayer88",
        "IngestFunctionSqsEventSourceBB",
        "ApiGetPermission",
        "DisbursementOutboxPipe00",
        "IngestInboxBucketNotifications",
        "CDKMetadata",
        "UserPool11",
        "ApiRestApi22",
    ]:
        assert logical_id in dropped and logical_id not in kept
    assert "Parameters" not in body and "Rules" not in body and "Outputs" not in body
    assert not any(target in dropped for target, _ in references(body["Resources"]))


def test_a_reference_to_a_left_out_resource_without_substitute_drops_the_referrer() -> None:
    body = {
        "Resources": {
            "Pool": {"Type": "AWS::Cognito::UserPool", "Properties": {}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Param": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Type": "String", "Value": {"Ref": "Pool"}},
            },
        }
    }
    kept, dropped = Template(body).deployable(supported_types(), {})
    assert set(kept["Resources"]) == {"Queue"}
    assert dropped["Param"] == "refers to Pool, which is not deployed"


def test_a_reference_to_nothing_is_an_error() -> None:
    body = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Ghost"}}}}
    }
    with pytest.raises(TemplateError, match="Ghost"):
        Template(body).deployable(supported_types(), {})


def test_the_resolver_evaluates_the_intrinsics_cdk_emits() -> None:
    resolver = Resolver(
        refs={"AWS::Region": "us-east-1", "Table": "tbl"},
        attributes={("Queue", "Arn"): "arn:aws:sqs:us-east-1:1:q"},
    )
    assert resolver.resolve({"Fn::Join": ["-", [{"Ref": "Table"}, "x"]]}) == "tbl-x"
    assert resolver.resolve({"Fn::Sub": "${Table}@${AWS::Region}:${Queue.Arn}${!Literal}"}) == (
        "tbl@us-east-1:arn:aws:sqs:us-east-1:1:q${Literal}"
    )
    assert resolver.resolve({"Fn::Sub": ["${A}-${Table}", {"A": {"Ref": "AWS::Region"}}]}) == "us-east-1-tbl"
    assert resolver.resolve({"Fn::Select": [1, {"Fn::Split": [":", "a:b:c"]}]}) == "b"
    assert resolver.resolve({"Fn::GetAtt": "Queue.Arn"}) == "arn:aws:sqs:us-east-1:1:q"
    with pytest.raises(UnresolvedReference):
        resolver.resolve({"Ref": "Missing"})


def test_queue_names_come_from_the_construct_path() -> None:
    assert snake_name("SettlementFilesQueue") == "settlement_files"
    assert snake_name("DisbursementsDlq") == "disbursements_dlq"
    assert snake_name("DisbursementsQueueDlq") == "disbursements_dlq"


# --- the real synthesized template --------------------------------------------------------------


def test_the_synthesized_template_names_the_four_functions_and_their_triggers(synthesized: Template) -> None:
    functions = {spec.name for spec in synthesized.functions()}
    assert functions == EXPECTED_FUNCTIONS
    triggers = {trigger.function: trigger for trigger in synthesized.queue_triggers()}
    assert set(triggers) == {"ingest_settlement", "disburse", "apply_repayment"}
    assert triggers["ingest_settlement"].batch_size == 1
    assert triggers["disburse"].batch_size == 10 and triggers["apply_repayment"].batch_size == 10
    assert all(trigger.report_batch_item_failures for trigger in triggers.values())


def test_every_synthesized_queue_has_a_name_of_its_own(synthesized: Template) -> None:
    names = synthesized.queue_names()
    assert len(names) == len(list(synthesized.of_type("AWS::SQS::Queue")))
    assert {"disbursements_outbox_pipe_dlq", "repayments_outbox_pipe_dlq", "pipe_dlq"} <= set(names)


def test_the_synthesized_routes_are_the_documented_ones(synthesized: Template) -> None:
    routes = {
        (route.method, route.path): route.function
        for route in synthesized.routes()
        if route.function is not None
    }
    expected = {
        ("GET", "/v1/unmatched"): "ingest_settlement",
        ("POST", "/v1/unmatched/{item_id}/resolution"): "ingest_settlement",
        ("GET", "/v1/credit-line"): "score_application",
        ("POST", "/v1/applications"): "score_application",
        ("GET", "/v1/applications/{application_id}"): "score_application",
        ("GET", "/v1/reviews"): "score_application",
        ("POST", "/v1/reviews/{application_id}/decision"): "score_application",
        ("GET", "/v1/loans"): "apply_repayment",
        ("GET", "/v1/loans/{loan_id}"): "apply_repayment",
        ("POST", "/v1/loans/{loan_id}/repayments"): "apply_repayment",
        ("GET", "/v1/repayments/{repayment_id}"): "apply_repayment",
        ("POST", "/v1/loans/{loan_id}/extension"): "apply_repayment",
    }
    assert {key: value for key, value in routes.items() if key in expected} == expected
    authorized = {route.authorization_type for route in synthesized.routes() if route.function is not None}
    assert authorized == {"COGNITO_USER_POOLS"}


def test_the_synthesized_pipes_use_the_documented_filter(synthesized: Template) -> None:
    targets = {}
    for pipe in synthesized.pipes():
        (pattern,) = pipe.patterns
        targets[pattern["dynamodb"]["NewImage"]["target"]["S"][0]] = pipe
        assert pattern["eventName"] == ["INSERT", "MODIFY"]  # MODIFY: the daily REPUBLISH
        assert pattern["dynamodb"]["NewImage"]["kind"] == {"S": ["OUTBOX"]}
    assert set(targets) == {"disbursements", "repayments"}


def test_the_synthesized_template_has_a_bucket_notification_for_the_local_stack(
    synthesized: Template,
) -> None:
    (notification,) = synthesized.notifications()
    configurations = notification.configuration["QueueConfigurations"]
    assert configurations and all("s3:ObjectCreated" in json.dumps(item["Events"]) for item in configurations)


def test_mock_response_templates_are_rendered_in_the_two_forms_the_stack_uses() -> None:
    assert render_mapping_template('{"statusCode": 200}') == b'{"statusCode": 200}'
    encoded = base64.b64encode('{"$ref": "#/components/x", "€": 1}'.encode()).decode()
    assert (
        render_mapping_template(f'$util.base64Decode("{encoded}")')
        == '{"$ref": "#/components/x", "€": 1}'.encode()
    )
    for velocity in ('{"id": "$input.params(\'id\')"}', "#set($x = 1)", '$util.base64Decode("not base64!")'):
        with pytest.raises(TemplateError, match="cannot render"):
            render_mapping_template(velocity)
