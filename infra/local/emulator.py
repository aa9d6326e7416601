"""The embedded AWS emulator (moto's server on 127.0.0.1) and the deployment of the synthesized
template into it through moto's CloudFormation."""

from __future__ import annotations

import json
import logging
import secrets
import warnings
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from infra.local.template import (
    PSEUDO_PARAMETERS,
    FunctionSpec,
    Resolver,
    Template,
    TemplateError,
    UnresolvedReference,
)

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
log = logging.getLogger("scf.local")


def client(
    service: str, endpoint: str, region: str, credentials: dict[str, str] | None = None, **config: Any
) -> Any:
    """A client of the emulator, with the emulator's own keys or `credentials` (boto3's keyword
    arguments: a partner's, see partner_credentials)."""
    keys = credentials or {
        "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    }
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        **keys,
        config=Config(retries={"max_attempts": 2, "mode": "standard"}, **config),
    )


class Emulator:
    """moto's ThreadedMotoServer, in this process, on 127.0.0.1."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        from moto.server import ThreadedMotoServer

        from infra.local import moto_fixes

        moto_fixes.install()  # transactions cost their own items, not the table's size
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self.endpoint = ""

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self.endpoint

    def stop(self) -> None:
        self._server.stop()


def supported_types() -> set[str]:
    """Resource types moto's CloudFormation can create."""
    from moto.cloudformation.parsing import get_model_map

    return {kind for kind in get_model_map() if kind.startswith("AWS::") and kind != "AWS::SERVICE::RESOURCE"}


def _kms_key_without_tags(properties: dict[str, Any]) -> dict[str, Any]:
    # moto's KMS CloudFormation model expects TagKey/TagValue tags and fails on CloudFormation's
    # Key/Value ones; tags on a key change nothing locally.
    return {name: value for name, value in properties.items() if name != "Tags"}


MOTO_QUIRKS = {"AWS::KMS::Key": _kms_key_without_tags}


def work_around_moto(body: dict[str, Any]) -> dict[str, Any]:
    """The template with the few properties moto's CloudFormation chokes on taken out."""
    for resource in body["Resources"].values():
        quirk = MOTO_QUIRKS.get(resource["Type"])
        if quirk is not None:
            resource["Properties"] = quirk(resource.get("Properties", {}))
    return body


@dataclass
class Deployment:
    """The stack as deployed: physical ids, the resolver for the template's references."""

    template: Template
    endpoint: str
    region: str
    account_id: str
    stack_name: str
    physical_ids: dict[str, str]
    function_names: dict[str, str]  # function logical id -> physical name
    dropped: dict[str, str]
    resolver: Resolver = field(repr=False)

    def resolve(self, value: Any) -> Any:
        return self.resolver.resolve(value)

    def function_arn(self, physical_name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{physical_name}"

    def queue_url(self, logical_id: str) -> str:
        return self.physical_ids[logical_id]

    def queue_arn(self, logical_id: str) -> str:
        return str(self.resolver.getatt(logical_id, "Arn"))

    def queues(self) -> dict[str, str]:
        """{snake name from the construct path: queue URL} for every queue of the stack."""
        names = self.template.queue_names()
        return {name: self.physical_ids[logical_id] for name, logical_id in names.items()}

    def environment_of(self, spec: FunctionSpec) -> dict[str, str]:
        try:
            resolved = self.resolve(spec.environment)
        except UnresolvedReference as exc:
            raise TemplateError(f"environment of {spec.name}: {exc}") from exc
        return {
            name: value if isinstance(value, str) else json.dumps(value) for name, value in resolved.items()
        }


def deploy(template: Template, endpoint: str, region: str, stack_name: str = "scf-local") -> Deployment:
    """Create the template's resources in moto (via CloudFormation) and read their physical ids."""
    cloudformation = client("cloudformation", endpoint, region)
    account_id = client("sts", endpoint, region).get_caller_identity()["Account"]
    pseudo = {
        "AWS::AccountId": account_id,
        "AWS::Region": region,
        "AWS::StackName": stack_name,
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::Partition": "aws",
    }
    function_names = {
        spec.logical_id: _function_physical_name(spec, stack_name, pseudo) for spec in template.functions()
    }
    substitutes: dict[Any, Any] = {}
    for logical_id, name in function_names.items():
        arn = f"arn:aws:lambda:{region}:{account_id}:function:{name}"
        substitutes[logical_id] = name
        substitutes[(logical_id, "Arn")] = arn
    secret_arns = create_secrets(template, endpoint, region, stack_name)
    substitutes.update(secret_arns)
    body, dropped = template.deployable(supported_types(), substitutes)
    body = work_around_moto(body)
    for logical_id, reason in sorted(dropped.items()):
        log.debug("not deployed to moto: %s (%s)", logical_id, reason)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cloudformation.create_stack(StackName=stack_name, TemplateBody=json.dumps(body))
    status = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
    if status != "CREATE_COMPLETE":
        raise TemplateError(f"moto could not create the stack: {status}")
    physical_ids = {
        item["LogicalResourceId"]: item["PhysicalResourceId"]
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name)
        for item in page["StackResourceSummaries"]
    }
    missing = set(body["Resources"]) - set(physical_ids)
    if missing:
        raise TemplateError(f"moto did not create {sorted(missing)}")
    stack_id = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["StackId"]
    refs: dict[str, Any] = {**pseudo, "AWS::StackId": stack_id, **physical_ids, **secret_arns}
    refs.update(function_names)
    attributes = {(logical_id, "Arn"): substitutes[(logical_id, "Arn")] for logical_id in function_names}
    resolver = Resolver(
        refs=refs,
        attributes=attributes,
        attribute_lookup=_moto_attribute_lookup(account_id, region, stack_name, set(physical_ids)),
    )
    for name in PSEUDO_PARAMETERS - set(refs):
        refs.setdefault(name, None)
    return Deployment(
        template=template,
        endpoint=endpoint,
        region=region,
        account_id=account_id,
        stack_name=stack_name,
        physical_ids=physical_ids,
        function_names=function_names,
        dropped=dropped,
        resolver=resolver,
    )


def create_secrets(template: Template, endpoint: str, region: str, stack_name: str) -> dict[str, str]:
    """Each `AWS::SecretsManager::Secret` of the template (moto's CloudFormation has no such type),
    created in the emulator with a generated value, as Secrets Manager does for the template's
    `GenerateSecretString` (a rest-signed bank's signing key: the simulated bank reads the same
    value). Returns {logical id: ARN}, what a `Ref` to the secret is."""
    created = {}
    for logical_id, resource in template.of_type("AWS::SecretsManager::Secret"):
        properties = resource.get("Properties", {})
        name = properties.get("Name") or f"{stack_name}-{logical_id}"
        if not isinstance(name, str):
            raise TemplateError(f"{logical_id}: the local stack needs a plain secret name, not {name!r}")
        answer = client("secretsmanager", endpoint, region).create_secret(
            Name=name,
            Description=str(properties.get("Description", "")),
            SecretString=secrets.token_urlsafe(48),
        )
        created[logical_id] = str(answer["ARN"])
    return created


def _function_physical_name(spec: FunctionSpec, stack_name: str, pseudo: dict[str, Any]) -> str:
    if spec.physical_name is not None:
        return str(Resolver(refs=dict(pseudo)).resolve(spec.physical_name))
    return f"{stack_name}-{spec.logical_id}"[:64]


def _moto_attribute_lookup(account_id: str, region: str, stack_name: str, deployed: set[str]) -> Any:
    """Fn::GetAtt as moto's CloudFormation evaluates it for the resources it created."""

    def lookup(logical_id: str, attribute: str) -> Any:
        if logical_id not in deployed:
            raise UnresolvedReference(
                f"Fn::GetAtt {logical_id}.{attribute}: {logical_id} is not deployed locally"
            )
        from moto.cloudformation.models import cloudformation_backends

        stack = cloudformation_backends[account_id][region].get_stack(stack_name)
        resource = stack.resource_map[logical_id]
        try:
            return resource.get_cfn_attribute(attribute)
        except Exception as exc:
            raise UnresolvedReference(f"Fn::GetAtt {logical_id}.{attribute}: {exc!r}") from exc

    return lookup


def configure_notifications(deployment: Deployment) -> list[str]:
    """Put each bucket's notification configuration, from the template's own notification resource."""
    s3 = client("s3", deployment.endpoint, deployment.region)
    buckets = []
    for notification in deployment.template.notifications():
        bucket = deployment.resolve(notification.bucket_ref)
        configuration = deployment.resolve(notification.configuration)
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)
        buckets.append(bucket)
    return buckets


SENDER_SESSION_SECONDS = 3600  # the sender roles' longest session (infra/constructs/ingest.py)


def partner_credentials(deployment: Deployment) -> dict[str, dict[str, Any]]:
    """Each inbox partner's keys: its sender role (the one `INBOX_SENDERS` names by role id)
    assumed in the emulator, as the partner's own access does in AWS. {partner: {role_arn,
    credentials: boto3 client keyword arguments}}; none when the template has no sender roles."""
    senders: dict[str, str] = {}
    for spec in deployment.template.functions():
        senders.update(json.loads(deployment.environment_of(spec).get("INBOX_SENDERS") or "{}"))
    if not senders:
        return {}
    iam = client("iam", deployment.endpoint, deployment.region)
    pages = iam.get_paginator("list_roles").paginate()
    arns = {role["RoleId"]: role["Arn"] for page in pages for role in page["Roles"]}
    sts = client("sts", deployment.endpoint, deployment.region)
    partners = {}
    for partner, role_id in sorted(senders.items()):
        keys = sts.assume_role(
            RoleArn=arns[role_id], RoleSessionName=f"{partner}-local", DurationSeconds=SENDER_SESSION_SECONDS
        )["Credentials"]
        partners[partner] = {
            "role_arn": arns[role_id],
            "credentials": {
                "aws_access_key_id": keys["AccessKeyId"],
                "aws_secret_access_key": keys["SecretAccessKey"],
                "aws_session_token": keys["SessionToken"],
            },
        }
    return partners


def configure_bucket_versioning(deployment: Deployment) -> list[str]:
    """moto's CloudFormation leaves a bucket's `VersioningConfiguration` out; put it as the template
    has it (the inbox is versioned: a file uploaded again is another version, which ingestion tells
    from a notification delivered twice)."""
    s3 = client("s3", deployment.endpoint, deployment.region)
    versioned = []
    for logical_id, resource in deployment.template.of_type("AWS::S3::Bucket"):
        status = resource.get("Properties", {}).get("VersioningConfiguration", {}).get("Status")
        if status:
            bucket = deployment.resolve({"Ref": logical_id})
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
            versioned.append(bucket)
    return versioned
