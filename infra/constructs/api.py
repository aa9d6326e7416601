"""The HTTPS API: REST API with a Cognito user-pool authorizer on every method, Lambda proxy
integrations, and the score_application function (credit line, applications, reviews)."""

from __future__ import annotations

import base64
import json

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Tags
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.constructs.common import (
    Layers,
    ScfFunction,
    acknowledge,
    base_environment,
    data_removal,
    log_group,
    scf_function,
)
from infra.constructs.config import StackConfig
from infra.constructs.data import Data
from infra.openapi import DOCUMENT_PATH, document
from scf.adapters.http import IDEMPOTENCY_HEADER

FUNCTION_NAME = "score_application"
FUNCTION_TIMEOUT = Duration.seconds(30)
STAGE_NAME = "prod"
SUPPLIER_ID_ATTRIBUTE = "supplier_id"  # the token carries it as `custom:supplier_id`
OPS_GROUP = "ops"

# docs/architecture.md, "Functions, triggers, routes": (method, path) -> owning function.
ROUTES: dict[str, list[tuple[str, str]]] = {
    "ingest_settlement": [("GET", "/v1/unmatched"), ("POST", "/v1/unmatched/{item_id}/resolution")],
    "score_application": [
        ("GET", "/v1/credit-line"),
        ("POST", "/v1/applications"),
        ("GET", "/v1/applications/{application_id}"),
        ("GET", "/v1/reviews"),
        ("POST", "/v1/reviews/{application_id}/decision"),
        ("GET", "/v1/ops/applications/{application_id}"),
    ],
    "apply_repayment": [
        ("GET", "/v1/loans"),
        ("GET", "/v1/loans/{loan_id}"),
        ("POST", "/v1/loans/{loan_id}/repayments"),
        ("GET", "/v1/repayments/{repayment_id}"),
        ("POST", "/v1/loans/{loan_id}/extension"),
        ("GET", "/v1/ops/loans/{loan_id}"),
        ("GET", "/v1/ops/loans"),
        ("GET", "/v1/ops/portfolio"),
        ("POST", "/v1/ops/payments/{payment_id}/outcome"),
    ],
}

# One JSON line per request. The caller is the Cognito authorizer's verified claims (identity.caller
# and identity.user are IAM-only: always empty here): its subject, its supplier and its groups; a
# request refused before the authorizer logs "-" for them. No token, body or account number.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "errorType": "$context.error.responseType",
    "sub": "$context.authorizer.claims.sub",
    "supplierId": f"$context.authorizer.claims['custom:{SUPPLIER_ID_ATTRIBUTE}']",
    "groups": "$context.authorizer.claims['cognito:groups']",
}

_PROBLEM_TEMPLATE = (
    '{"type": "about:blank", "title": "%s", "status": %d, "detail": "%s", "request_id": "$context.requestId"}'
)
_GATEWAY_MESSAGE = "$context.error.message"
# Errors API Gateway answers itself, shaped as RFC 9457 problem+json like the handlers' errors.
# An unknown route is MISSING_AUTHENTICATION_TOKEN to API Gateway (403 by default): answered 404, as
# the handlers answer a route they do not know.
_GATEWAY_RESPONSES = [
    ("BadRequestParameters", apigw.ResponseType.BAD_REQUEST_PARAMETERS, 400, "Bad Request", _GATEWAY_MESSAGE),
    ("Unauthorized", apigw.ResponseType.UNAUTHORIZED, 401, "Unauthorized", _GATEWAY_MESSAGE),
    ("AccessDenied", apigw.ResponseType.ACCESS_DENIED, 403, "Forbidden", _GATEWAY_MESSAGE),
    ("NoRoute", apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, 404, "Not found", "no such route"),
    ("Throttled", apigw.ResponseType.THROTTLED, 429, "Too Many Requests", _GATEWAY_MESSAGE),
    ("IntegrationFailure", apigw.ResponseType.INTEGRATION_FAILURE, 502, "Bad Gateway", _GATEWAY_MESSAGE),
    ("IntegrationTimeout", apigw.ResponseType.INTEGRATION_TIMEOUT, 504, "Gateway Timeout", _GATEWAY_MESSAGE),
]
# Every other error API Gateway answers itself: the same shape, without `status` (which a gateway
# response template cannot know; RFC 9457 makes it advisory) since these keep their own status.
_DEFAULT_PROBLEM_TEMPLATE = (
    '{"type": "about:blank", "title": "%s", "detail": "$context.error.message", '
    '"request_id": "$context.requestId"}'
)
_DEFAULT_GATEWAY_RESPONSES = [
    ("Default4xx", apigw.ResponseType.DEFAULT_4_XX, "Client error"),
    ("Default5xx", apigw.ResponseType.DEFAULT_5_XX, "Server error"),
]


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data: Data,
        layers: Layers,
        config: StackConfig,
        route_targets: dict[str, ScfFunction],
    ) -> None:
        super().__init__(scope, construct_id)
        Tags.of(self).add("scf:component", "api")
        self.function = scf_function(
            self,
            name=FUNCTION_NAME,
            config=config,
            description="Credit line, financing applications and decisions, manual reviews",
            layers=layers,
            environment=base_environment(
                FUNCTION_NAME,
                table_name=data.table.table_name,
                config=config,
            ),
            timeout=FUNCTION_TIMEOUT,
            memory_size=1024,
        )
        data.grant_table_access(self.function)
        targets = {**route_targets, FUNCTION_NAME: self.function}
        unknown = set(ROUTES) - set(targets)
        if unknown:
            raise ValueError(f"routes name functions that are not wired: {sorted(unknown)}")

        self.user_pool = self._user_pool(config)
        self.user_pool_client = self.user_pool.add_client(
            "ApiClient",
            auth_flows=cognito.AuthFlow(user_srp=True),
            # Sign-in is SRP against the user pool only: no hosted UI, so no OAuth flow (CDK's
            # default would allow the implicit grant with an example callback URL).
            disable_o_auth=True,
            generate_secret=False,
            prevent_user_existence_errors=True,
            read_attributes=cognito.ClientAttributes()
            .with_standard_attributes(email=True, email_verified=True)
            .with_custom_attributes(SUPPLIER_ID_ATTRIBUTE),
            # Users may not write custom:supplier_id: the supplier always comes from the token.
            write_attributes=cognito.ClientAttributes().with_standard_attributes(email=True),
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
        )
        authorizer = apigw.CognitoUserPoolsAuthorizer(self, "Authorizer", cognito_user_pools=[self.user_pool])

        access_logs = log_group(self, "AccessLogs", config)
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            description="scf supplier and ops API (/v1)",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                throttling_rate_limit=config.api_rate_limit,
                throttling_burst_limit=config.api_burst_limit,
            ),
        )
        # Parameters (path ids, the Idempotency-Key header of every POST) are checked at the gateway.
        # Body validation is on, but no method has a body model: the contract answers invalid bodies
        # with 422 problem+json listing field errors (CONTRACT.md s.2), which only the handler can do.
        validator = self.rest_api.add_request_validator(
            "RequestValidator", validate_request_parameters=True, validate_request_body=True
        )
        for response_id, response_type, status, title, detail in _GATEWAY_RESPONSES:
            self.rest_api.add_gateway_response(
                response_id,
                type=response_type,
                status_code=str(status),
                response_headers={"Content-Type": "'application/problem+json'"},
                templates={"application/json": _PROBLEM_TEMPLATE % (title, status, detail)},
            )
        for response_id, response_type, title in _DEFAULT_GATEWAY_RESPONSES:
            self.rest_api.add_gateway_response(
                response_id,
                type=response_type,
                response_headers={"Content-Type": "'application/problem+json'"},
                templates={"application/json": _DEFAULT_PROBLEM_TEMPLATE % title},
            )

        integrations = {
            name: apigw.LambdaIntegration(target.function, proxy=True, allow_test_invoke=False)
            for name, target in targets.items()
        }
        self.methods: dict[tuple[str, str], apigw.Method] = {}
        for function_name, routes in ROUTES.items():
            for http_method, path in routes:
                resource = self.rest_api.root.resource_for_path(path)
                parameters = {
                    f"method.request.path.{part[1:-1]}": True
                    for part in path.split("/")
                    if part.startswith("{") and part.endswith("}")
                }
                if http_method == "POST":
                    parameters[f"method.request.header.{IDEMPOTENCY_HEADER}"] = True
                self.methods[(http_method, path)] = resource.add_method(
                    http_method,
                    integrations[function_name],
                    authorizer=authorizer,
                    authorization_type=apigw.AuthorizationType.COGNITO,
                    request_parameters=parameters or None,
                    request_validator=validator,
                )
        self.document_method = self._openapi_document()

        acknowledge(
            self.rest_api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-level role API Gateway needs for execution logs (APIG6); this AWS policy is the "
            "documented one and only allows writing logs.",
        )
        no_waf = (
            "No WAF web ACL in the skeleton: every method needs a Cognito token and the stage is "
            "throttled; a WAF ACL (rate rules, IP reputation) is an account-level choice of the "
            "operating lender and can be associated with the stage without changing this stack."
        )
        acknowledge(self.rest_api, "AwsSolutions-APIG3", no_waf)
        acknowledge(self.rest_api, "NIST.800.53.R5-APIGWAssociatedWithWAF", no_waf)
        acknowledge(
            self.rest_api,
            "NIST.800.53.R5-APIGWCacheEnabledAndEncrypted",
            "No stage cache: every answer is the caller's own (by token) and money state must be read "
            "fresh (a cached balance or loan status would be wrong); nothing is cached to encrypt.",
        )
        acknowledge(
            self.rest_api,
            "NIST.800.53.R5-APIGWSSLEnabled",
            "The rule asks for a client certificate toward HTTP backends; every integration here is a "
            "Lambda proxy (invoked through the Lambda API with IAM) or a MOCK, so no backend could "
            "check one.",
        )
        CfnOutput(self, "ApiUrl", value=self.rest_api.url_for_path("/v1"))
        CfnOutput(self, "UserPoolId", value=self.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=self.user_pool_client.user_pool_client_id)

    def _openapi_document(self) -> apigw.Method:
        """`GET /openapi.json`: the API's OpenAPI document (infra/openapi.py), answered by API
        Gateway itself (a MOCK integration: no function, no data) and without a token, so that a
        browser or a client generator can read it. The body is the document base64-encoded inside
        `$util.base64Decode(...)`: the mapping template language would otherwise read the
        document's `$ref` and `#` as its own syntax, and a reference's output is never re-parsed.
        docs/decisions/0004-openapi.md."""
        body = json.dumps(document(server_url=f"/{STAGE_NAME}"), separators=(",", ":"))
        encoded = base64.b64encode(body.encode("utf-8")).decode("ascii")
        resource = self.rest_api.root.resource_for_path(DOCUMENT_PATH)
        method = resource.add_method(
            "GET",
            apigw.MockIntegration(
                passthrough_behavior=apigw.PassthroughBehavior.NEVER,
                request_templates={"application/json": '{"statusCode": 200}'},
                integration_responses=[
                    apigw.IntegrationResponse(
                        status_code="200",
                        response_templates={"application/json": f'$util.base64Decode("{encoded}")'},
                        response_parameters={
                            "method.response.header.Content-Type": "'application/json'",
                            "method.response.header.Cache-Control": "'max-age=300'",
                        },
                    )
                ],
            ),
            authorization_type=apigw.AuthorizationType.NONE,
            method_responses=[
                apigw.MethodResponse(
                    status_code="200",
                    response_parameters={
                        "method.response.header.Content-Type": True,
                        "method.response.header.Cache-Control": True,
                    },
                )
            ],
        )
        reason = (
            "GET /openapi.json is the API's published description and nothing else: a MOCK "
            "integration (no function, no data, no caller identity), throttled with the stage. "
            "Requiring a token would keep browsers and client generators from reading it; every /v1 "
            "method keeps the Cognito authorizer."
        )
        acknowledge(method, "AwsSolutions-APIG4", reason)
        acknowledge(method, "AwsSolutions-COG4", reason)
        return method

    def _user_pool(self, config: StackConfig) -> cognito.UserPool:
        pool = cognito.UserPool(
            self,
            "UserPool",
            self_sign_up_enabled=False,  # suppliers and reviewers are onboarded by the lender
            sign_in_aliases=cognito.SignInAliases(email=True),
            custom_attributes={
                SUPPLIER_ID_ATTRIBUTE: cognito.StringAttribute(min_len=1, max_len=64, mutable=False)
            },
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=config.deletion_protection,
            removal_policy=data_removal(config),
        )
        cognito.UserPoolGroup(
            self,
            "OpsGroup",
            user_pool=pool,
            group_name=OPS_GROUP,
            description="Ops reviewers: manual review decisions and unmatched bank items",
        )
        return pool
