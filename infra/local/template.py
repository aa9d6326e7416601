"""Reading the synthesized CloudFormation template: what the local stack deploys into moto, and
what it runs itself (functions, event source mappings, pipes, API routes, bucket notifications).

Nothing about the resources is written here: every name, setting and wiring is read from the
template, and references are resolved against the physical ids of the stack deployed into moto.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = ROOT / "functions"
SHARED_LAYER_DIR = ROOT / "layers" / "scf" / "python"

FUNCTION_TAG = "scf:function"
LAMBDA_FUNCTION = "AWS::Lambda::Function"
EVENT_SOURCE_MAPPING = "AWS::Lambda::EventSourceMapping"
PIPE = "AWS::Pipes::Pipe"
EVENT_BUS = "AWS::Events::EventBus"
STATE_MACHINE = "AWS::StepFunctions::StateMachine"
BUCKET_NOTIFICATIONS = "Custom::S3BucketNotifications"
# Resources the local stack runs itself instead of sending them to moto: moto cannot invoke Lambda
# without Docker, the code assets live in the CDK bootstrap bucket, moto has no Pipes, and the REST
# API is served by the local gateway (moto's CloudFormation also fails on MOCK integrations).
RUN_LOCALLY_PREFIXES = ("AWS::ApiGateway::",)
RUN_LOCALLY = frozenset(
    {
        LAMBDA_FUNCTION,
        "AWS::Lambda::LayerVersion",
        "AWS::Lambda::Permission",
        EVENT_SOURCE_MAPPING,
        "AWS::Lambda::Version",
        "AWS::Lambda::Alias",
        PIPE,
    }
)
# The bus's archive: moto's CloudFormation reads its event pattern as a string (the template has
# an object) and nothing replays locally (`scf local events` reads the pipe's log).
NEVER_DEPLOYED = frozenset({"AWS::CDK::Metadata", "AWS::Events::Archive"})
PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::NotificationARNs",
    }
)


class TemplateError(RuntimeError):
    pass


class UnresolvedReference(TemplateError):
    pass


# --- references ------------------------------------------------------------------------------


def references(value: Any) -> Iterator[tuple[str, str | None]]:
    """Every (logical id, attribute or None for Ref) that `value` refers to, at any depth."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, operand),) = value.items()
            if key == "Ref" and isinstance(operand, str):
                yield operand, None
                return
            if key == "Fn::GetAtt":
                target, attribute = _getatt_operand(operand)
                yield target, attribute
                return
            if key == "Fn::Sub":
                text, variables = (operand, {}) if isinstance(operand, str) else (operand[0], operand[1])
                for name in re.findall(r"\$\{([^!}][^}]*)\}", text):
                    if name in variables:
                        continue
                    target, _, attribute = name.partition(".")
                    yield target, attribute or None
                yield from references(variables)
                return
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def _getatt_operand(operand: Any) -> tuple[str, str]:
    if isinstance(operand, str):
        target, _, attribute = operand.partition(".")
        return target, attribute
    return str(operand[0]), str(operand[1])


@dataclass
class Resolver:
    """Evaluates intrinsic functions against known physical ids and attributes."""

    refs: dict[str, Any]
    attributes: dict[tuple[str, str], Any] = field(default_factory=dict)
    attribute_lookup: Callable[[str, str], Any] | None = None  # for attributes not in `attributes`

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, operand),) = value.items()
            handler = _INTRINSICS.get(key)
            if handler is not None:
                return handler(self, operand)
        return {key: self.resolve(item) for key, item in value.items()}

    def ref(self, name: str) -> Any:
        if name not in self.refs:
            raise UnresolvedReference(f"Ref {name} is not known to the local stack")
        return self.refs[name]

    def getatt(self, target: str, attribute: str) -> Any:
        if (target, attribute) in self.attributes:
            return self.attributes[(target, attribute)]
        if self.attribute_lookup is not None:
            return self.attribute_lookup(target, attribute)
        raise UnresolvedReference(f"Fn::GetAtt {target}.{attribute} is not known to the local stack")

    def _sub(self, operand: Any) -> str:
        text, variables = (operand, {}) if isinstance(operand, str) else (operand[0], operand[1])
        values = {name: self.resolve(item) for name, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return str(values[name])
            target, _, attribute = name.partition(".")
            return str(self.getatt(target, attribute) if attribute else self.ref(target))

        return re.sub(r"\$\{([^}]*)\}", replace, text)


_INTRINSICS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Ref": lambda r, operand: r.ref(operand),
    "Fn::GetAtt": lambda r, operand: r.getatt(*_getatt_operand(operand)),
    "Fn::Join": lambda r, operand: str(operand[0]).join(
        str(r.resolve(item)) for item in r.resolve(operand[1])
    ),
    "Fn::Sub": lambda r, operand: r._sub(operand),
    "Fn::Select": lambda r, operand: r.resolve(operand[1])[int(r.resolve(operand[0]))],
    "Fn::Split": lambda r, operand: str(r.resolve(operand[1])).split(str(operand[0])),
}


# --- what the template describes ---------------------------------------------------------------


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str  # the code directory under functions/
    handler: str
    code_dir: Path
    timeout: int
    memory: int
    environment: dict[str, Any]  # unresolved: may hold Ref / Fn::GetAtt
    physical_name: Any  # FunctionName property (maybe an intrinsic) or None


@dataclass(frozen=True)
class QueueTrigger:
    logical_id: str
    function: str
    queue_logical_id: str
    batch_size: int
    report_batch_item_failures: bool
    batching_window_seconds: int
    enabled: bool


@dataclass(frozen=True)
class ScheduleSpec:
    """An EventBridge Scheduler schedule that sends to one of the stack's queues."""

    logical_id: str
    expression: str
    timezone: str
    queue_logical_id: str
    input: str


@dataclass(frozen=True)
class _PipeEnds:
    source_table: str
    source_attribute: str
    target: str
    patterns: list[dict[str, Any]]


@dataclass(frozen=True)
class BusPipeSpec:
    """A pipe from a table stream to an event bus: its enrichment (a state machine definition),
    input template and bus parameters, run by infra/local/events.py."""

    logical_id: str
    source_table: str
    source_attribute: str
    patterns: list[dict[str, Any]]
    enrichment: dict[str, Any] | None
    input_template: str | None
    bus_parameters: dict[str, Any]


@dataclass(frozen=True)
class PipeSpec:
    logical_id: str
    source_table: str
    source_attribute: str
    target_queue: str
    patterns: list[dict[str, Any]]
    batch_size: int


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway resource path, e.g. /v1/loans/{loan_id}
    function: str | None  # None for MOCK integrations
    authorization_type: str
    mock_response: dict[str, Any] | None = None
    # {"header" | "querystring" | "path": [names]} checked when the method's validator says so
    required_parameters: dict[str, list[str]] = field(default_factory=dict)

    @property
    def pattern(self) -> re.Pattern[str]:
        parts = []
        for part in self.path.strip("/").split("/"):
            if part.startswith("{") and part.endswith("+}"):
                parts.append(f"(?P<{path_group(part[1:-2])}>.+)")
            elif part.startswith("{") and part.endswith("}"):
                parts.append(f"(?P<{path_group(part[1:-1])}>[^/]+)")
            else:
                parts.append(re.escape(part))
        return re.compile("^/" + "/".join(parts) + "$") if parts != [""] else re.compile("^/$")


def path_group(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


@dataclass(frozen=True)
class GatewayResponse:
    status: int | None  # None: the response type's own status
    headers: dict[str, str]
    template: str | None  # a mapping template using $context variables


@dataclass(frozen=True)
class Notification:
    bucket_ref: Any
    configuration: dict[str, Any]


class Template:
    def __init__(self, body: dict[str, Any], outdir: str | Path | None = None) -> None:
        self.body = body
        self.outdir = Path(outdir) if outdir else None
        self.resources: dict[str, dict[str, Any]] = body.get("Resources", {})

    def of_type(self, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, resource in self.resources.items():
            if resource.get("Type") == resource_type:
                yield logical_id, resource

    def cdk_path(self, logical_id: str) -> str:
        return str(self.resources[logical_id].get("Metadata", {}).get("aws:cdk:path", logical_id))

    # functions

    def functions(self) -> list[FunctionSpec]:
        specs = []
        for logical_id, resource in self.of_type(LAMBDA_FUNCTION):
            name = self._function_name(logical_id, resource)
            if name is None:
                continue  # a CDK-internal function (a custom resource provider): not ours to run
            props = resource.get("Properties", {})
            specs.append(
                FunctionSpec(
                    logical_id=logical_id,
                    name=name,
                    handler=str(props.get("Handler", "handler.handler")),
                    code_dir=FUNCTIONS_DIR / name,
                    timeout=int(props.get("Timeout", 3)),
                    memory=int(props.get("MemorySize", 128)),
                    environment=dict(props.get("Environment", {}).get("Variables", {})),
                    physical_name=props.get("FunctionName"),
                )
            )
        return specs

    def _function_name(self, logical_id: str, resource: dict[str, Any]) -> str | None:
        """The function's code directory, from its `scf:function` tag or metadata, else its asset."""
        for tag in resource.get("Properties", {}).get("Tags", []):
            if tag.get("Key") == FUNCTION_TAG:
                return self._known_function(logical_id, str(tag["Value"]))
        metadata = resource.get("Metadata", {})
        if FUNCTION_TAG in metadata:
            return self._known_function(logical_id, str(metadata[FUNCTION_TAG]))
        asset = metadata.get("aws:asset:path")
        if asset and self.outdir is not None:
            return _function_of_asset(self.outdir / asset)
        return None

    @staticmethod
    def _known_function(logical_id: str, name: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise TemplateError(
                f"{logical_id} names function {name!r}, which is not a directory under functions/"
            )
        return name

    def function_by_logical_id(self) -> dict[str, FunctionSpec]:
        return {spec.logical_id: spec for spec in self.functions()}

    # triggers

    def queue_triggers(self) -> list[QueueTrigger]:
        functions = self.function_by_logical_id()
        triggers = []
        for logical_id, resource in self.of_type(EVENT_SOURCE_MAPPING):
            props = resource.get("Properties", {})
            refs = list(references(props.get("EventSourceArn")))
            function_refs = [
                target for target, _ in references(props.get("FunctionName")) if target in functions
            ]
            if not refs or not function_refs:
                raise TemplateError(f"{logical_id}: cannot tell its queue or function")
            queue = refs[0][0]
            if self.resources.get(queue, {}).get("Type") != "AWS::SQS::Queue":
                raise TemplateError(f"{logical_id}: only SQS event sources are supported locally")
            triggers.append(
                QueueTrigger(
                    logical_id=logical_id,
                    function=functions[function_refs[0]].name,
                    queue_logical_id=queue,
                    batch_size=int(props.get("BatchSize", 10)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in props.get("FunctionResponseTypes", []),
                    batching_window_seconds=int(props.get("MaximumBatchingWindowInSeconds", 0)),
                    enabled=bool(props.get("Enabled", True)),
                )
            )
        return triggers

    def _pipes(self, *, to_bus: bool) -> Iterator[tuple[str, dict[str, Any], _PipeEnds]]:
        """Each pipe whose target is (`to_bus`) or is not an event bus, with its ends and filters."""
        from infra.local.pattern import parse_pattern

        for logical_id, resource in self.of_type(PIPE):
            props = resource.get("Properties", {})
            source = list(references(props.get("Source")))
            target = list(references(props.get("Target")))
            if not source or not target:
                raise TemplateError(f"{logical_id}: cannot tell its source stream or target")
            if (self._type_of(target[0][0]) == EVENT_BUS) != to_bus:
                continue
            filters = props.get("SourceParameters", {}).get("FilterCriteria", {}).get("Filters", [])
            ends = _PipeEnds(
                source_table=source[0][0],
                source_attribute=source[0][1] or "StreamArn",
                target=target[0][0],
                patterns=[parse_pattern(item["Pattern"]) for item in filters],
            )
            yield logical_id, props, ends

    def pipes(self) -> list[PipeSpec]:
        pipes = []
        for logical_id, props, ends in self._pipes(to_bus=False):
            if props.get("TargetParameters", {}).get("InputTemplate"):
                raise TemplateError(f"{logical_id}: input templates are not supported locally")
            stream = props.get("SourceParameters", {}).get("DynamoDBStreamParameters", {})
            pipes.append(
                PipeSpec(
                    logical_id=logical_id,
                    source_table=ends.source_table,
                    source_attribute=ends.source_attribute,
                    target_queue=ends.target,
                    patterns=ends.patterns,
                    batch_size=int(stream.get("BatchSize", 1)),
                )
            )
        return pipes

    def bus_pipes(self) -> list[BusPipeSpec]:
        """The pipes whose target is an event bus (the domain events, docs/events.md)."""
        pipes = []
        for logical_id, props, ends in self._pipes(to_bus=True):
            enrichment = None
            if props.get("Enrichment"):
                (machine, _), *_ = references(props["Enrichment"])
                if self._type_of(machine) != STATE_MACHINE:
                    raise TemplateError(f"{logical_id}: only a state machine enrichment runs locally")
                definition = self.resources[machine]["Properties"].get("DefinitionString")
                if not isinstance(definition, str):
                    raise TemplateError(f"{machine}: a definition with references does not run locally")
                enrichment = json.loads(definition)
            target_parameters = props.get("TargetParameters", {})
            pipes.append(
                BusPipeSpec(
                    logical_id=logical_id,
                    source_table=ends.source_table,
                    source_attribute=ends.source_attribute,
                    patterns=ends.patterns,
                    enrichment=enrichment,
                    input_template=target_parameters.get("InputTemplate"),
                    bus_parameters=dict(target_parameters.get("EventBridgeEventBusParameters", {})),
                )
            )
        return pipes

    def queue_names(self) -> dict[str, str]:
        """{snake name from the construct path: logical id} for every queue: `repayments`,
        `repayments_dlq`, `settlement_files`... (env.json's `queues`, `scf ops redrive NAME`)."""
        named = {}
        for logical_id, _ in self.of_type("AWS::SQS::Queue"):
            parts = [part for part in self.cdk_path(logical_id).split("/")[1:] if part != "Resource"]
            label = parts[-1] if parts else logical_id
            if label.lower() in {"queue", "dlq", "deadletterqueue"} and len(parts) > 1:
                label = parts[-2] + label
            named[snake_name(label)] = logical_id
        return named

    def schedules(self) -> list[ScheduleSpec]:
        """Schedules whose target is a queue of the template (the daily job), in template order."""
        specs = []
        for logical_id, resource in self.of_type("AWS::Scheduler::Schedule"):
            props = resource["Properties"]
            target = props["Target"]
            queue = next(
                (ref for ref, _ in references(target["Arn"]) if self._type_of(ref) == "AWS::SQS::Queue"), None
            )
            if queue is None:
                continue
            specs.append(
                ScheduleSpec(
                    logical_id=logical_id,
                    expression=props["ScheduleExpression"],
                    timezone=props.get("ScheduleExpressionTimezone", "UTC"),
                    queue_logical_id=queue,
                    input=target.get("Input", "{}"),
                )
            )
        return specs

    def _type_of(self, logical_id: str) -> str | None:
        resource = self.resources.get(logical_id)
        return resource.get("Type") if resource else None

    def notifications(self) -> list[Notification]:
        return [
            Notification(
                bucket_ref=resource["Properties"]["BucketName"],
                configuration=resource["Properties"].get("NotificationConfiguration", {}),
            )
            for _, resource in self.of_type(BUCKET_NOTIFICATIONS)
        ]

    # API

    def stage_name(self) -> str:
        for _, resource in self.of_type("AWS::ApiGateway::Stage"):
            return str(resource.get("Properties", {}).get("StageName", "prod"))
        for _, resource in self.of_type("AWS::ApiGateway::Deployment"):
            if "StageName" in resource.get("Properties", {}):
                return str(resource["Properties"]["StageName"])
        return "prod"

    def routes(self) -> list[Route]:
        functions = self.function_by_logical_id()
        paths = self._resource_paths()
        routes = []
        for logical_id, resource in self.of_type("AWS::ApiGateway::Method"):
            props = resource.get("Properties", {})
            path = self._path_of(props.get("ResourceId"), paths, logical_id)
            integration = props.get("Integration", {})
            kind = integration.get("Type")
            if kind == "AWS_PROXY":
                targets = [target for target, _ in references(integration.get("Uri")) if target in functions]
                if not targets:
                    raise TemplateError(f"{logical_id}: its integration does not name one of our functions")
                function: str | None = functions[targets[0]].name
                mock = None
            elif kind == "MOCK":
                function, mock = None, _mock_response(integration)
            else:
                raise TemplateError(f"{logical_id}: integration type {kind!r} is not supported locally")
            routes.append(
                Route(
                    method=str(props["HttpMethod"]).upper(),
                    path=path,
                    function=function,
                    authorization_type=str(props.get("AuthorizationType", "NONE")),
                    mock_response=mock,
                    required_parameters=self._required_parameters(props),
                )
            )
        return routes

    def _required_parameters(self, method: dict[str, Any]) -> dict[str, list[str]]:
        validator_refs = [target for target, _ in references(method.get("RequestValidatorId"))]
        validator = self.resources.get(validator_refs[0], {}) if validator_refs else {}
        if not validator.get("Properties", {}).get("ValidateRequestParameters"):
            return {}
        required: dict[str, list[str]] = {}
        for name, needed in method.get("RequestParameters", {}).items():
            parts = name.split(".", 3)  # method.request.<location>.<name>
            if needed is True and len(parts) == 4:
                required.setdefault(parts[2], []).append(parts[3])
        return required

    def gateway_responses(self) -> dict[str, GatewayResponse]:
        """The REST API's customized gateway responses, by response type."""
        responses = {}
        for _, resource in self.of_type("AWS::ApiGateway::GatewayResponse"):
            props = resource.get("Properties", {})
            headers = {
                name.removeprefix("gatewayresponse.header."): str(value).strip("'")
                for name, value in props.get("ResponseParameters", {}).items()
                if name.startswith("gatewayresponse.header.")
            }
            templates = props.get("ResponseTemplates", {})
            responses[str(props["ResponseType"])] = GatewayResponse(
                status=int(props["StatusCode"]) if "StatusCode" in props else None,
                headers=headers,
                template=templates.get("application/json") or next(iter(templates.values()), None),
            )
        return responses

    def _resource_paths(self) -> dict[str, str]:
        resources = dict(self.of_type("AWS::ApiGateway::Resource"))
        paths: dict[str, str] = {}

        def path_of(logical_id: str, seen: tuple[str, ...] = ()) -> str:
            if logical_id in paths:
                return paths[logical_id]
            if logical_id in seen:
                raise TemplateError(f"API resource cycle at {logical_id}")
            props = resources[logical_id]["Properties"]
            parent = props["ParentId"]
            parent_refs = list(references(parent))
            if parent_refs and parent_refs[0][1] is None and parent_refs[0][0] in resources:
                base = path_of(parent_refs[0][0], (*seen, logical_id))
            else:
                base = "/"  # Fn::GetAtt [RestApi, RootResourceId]
            paths[logical_id] = base.rstrip("/") + "/" + str(props["PathPart"])
            return paths[logical_id]

        for logical_id in resources:
            path_of(logical_id)
        return paths

    @staticmethod
    def _path_of(resource_id: Any, paths: dict[str, str], method: str) -> str:
        refs = list(references(resource_id))
        if not refs:
            raise TemplateError(f"{method}: no ResourceId")
        target, attribute = refs[0]
        if attribute is None:
            return paths[target]
        return "/"

    # deployment into moto

    def deployable(
        self, supported_types: set[str], substitutes: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The template moto can create, and {logical id: why it was left out} for the rest.

        Left out: custom resources, types moto's CloudFormation cannot create, what the local stack
        runs itself (RUN_LOCALLY) and, transitively, whatever refers to a left-out resource unless the
        reference has a substitute (`substitutes`: {logical id or (logical id, attribute): value}).
        Parameters and Rules (the CDK bootstrap version check) go; a Ref to a parameter becomes its
        default value.
        """
        dropped: dict[str, str] = {}
        for logical_id, resource in self.resources.items():
            kind = str(resource.get("Type"))
            if kind.startswith("Custom::") or kind in NEVER_DEPLOYED:
                dropped[logical_id] = f"{kind}: not deployed locally"
            elif kind in RUN_LOCALLY or kind.startswith(RUN_LOCALLY_PREFIXES):
                dropped[logical_id] = f"{kind}: run by the local stack"
            elif kind not in supported_types:
                dropped[logical_id] = f"{kind}: not supported by moto's CloudFormation"
        parameters = {
            name: spec["Default"]
            for name, spec in self.body.get("Parameters", {}).items()
            if "Default" in spec
        }
        changed = True
        while changed:
            changed = False
            for logical_id, resource in self.resources.items():
                if logical_id in dropped:
                    continue
                for target, attribute in references(resource.get("Properties", {})):
                    known = target in PSEUDO_PARAMETERS or target in parameters
                    substituted = (target, attribute) in substitutes or (
                        attribute is None and target in substitutes
                    )
                    if target in dropped and not substituted:
                        dropped[logical_id] = f"refers to {target}, which is not deployed"
                        changed = True
                        break
                    if target not in self.resources and not known:
                        raise TemplateError(f"{logical_id} refers to unknown {target}")
        resolver = _PartialResolver(dropped, parameters, substitutes)
        kept = {}
        for logical_id, resource in self.resources.items():
            if logical_id in dropped:
                continue
            copy = {key: value for key, value in resource.items() if key != "DependsOn"}
            copy["Properties"] = resolver.resolve(resource.get("Properties", {}))
            depends = resource.get("DependsOn", [])
            depends = [depends] if isinstance(depends, str) else depends
            if kept_depends := [item for item in depends if item not in dropped]:
                copy["DependsOn"] = kept_depends
            kept[logical_id] = copy
        body = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": kept}
        if "Conditions" in self.body:
            body["Conditions"] = self.body["Conditions"]
        if "Mappings" in self.body:
            body["Mappings"] = self.body["Mappings"]
        return body, dropped


@dataclass
class _PartialResolver:
    """Replaces only references to left-out resources and to parameters; keeps the rest for moto."""

    dropped: dict[str, str]
    parameters: dict[str, Any]
    substitutes: dict[Any, Any]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, operand),) = value.items()
            if key == "Ref" and isinstance(operand, str):
                if operand in self.parameters:
                    return self.parameters[operand]
                if operand in self.dropped:
                    return self.substitutes[operand]
            if key == "Fn::GetAtt":
                target, attribute = _getatt_operand(operand)
                if target in self.dropped:
                    return self.substitutes[(target, attribute)]
        return {key: self.resolve(item) for key, item in value.items()}


def _mock_response(integration: dict[str, Any]) -> dict[str, Any]:
    responses = integration.get("IntegrationResponses", [])
    first = responses[0] if responses else {}
    headers = {}
    for name, value in first.get("ResponseParameters", {}).items():
        if name.startswith("method.response.header.") and isinstance(value, str):
            headers[name.removeprefix("method.response.header.")] = value.strip("'")
    templates = first.get("ResponseTemplates") or {}
    template = templates.get("application/json", next(iter(templates.values()), None))
    body = render_mapping_template(template) if isinstance(template, str) else b""
    return {"statusCode": int(first.get("StatusCode", 200)), "headers": headers, "body": body}


_BASE64_DECODE = re.compile(r'^\$util\.base64Decode\("([A-Za-z0-9+/]*={0,2})"\)$')


def render_mapping_template(template: str) -> bytes:
    """The body API Gateway renders from a MOCK integration's response template, for the two forms
    the stack uses: plain text without template syntax, and exactly `$util.base64Decode("...")`
    (how the OpenAPI document is served: infra/constructs/api.py). Anything else would need a
    Velocity engine: TemplateError, so the stack does not start with an answer it cannot give."""
    found = _BASE64_DECODE.match(template.strip())
    if found is not None:
        return base64.b64decode(found.group(1))
    if "$" in template or "#" in template:
        raise TemplateError(f"a MOCK response template the local gateway cannot render: {template[:80]!r}")
    return template.encode("utf-8")


def _function_of_asset(asset_dir: Path) -> str | None:
    handler = asset_dir / "handler.py"
    if not handler.is_file():
        return None
    digest = hashlib.sha256(handler.read_bytes()).hexdigest()
    for candidate in sorted(FUNCTIONS_DIR.glob("*/handler.py")):
        if hashlib.sha256(candidate.read_bytes()).hexdigest() == digest:
            return candidate.parent.name
    return None


def snake_name(cdk_path_part: str) -> str:
    """`SettlementFilesQueue` -> `settlement_files`; `DisbursementsQueueDlq` -> `disbursements_dlq`."""
    text = cdk_path_part.replace("Queue", "") or cdk_path_part
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text).lower().strip("_")
