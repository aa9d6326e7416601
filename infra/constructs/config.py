"""Settings of the stack: one stage of cdk.json's `scf:stages`, chosen with `-c stage=NAME`
(default `local`). docs/bank-gateways.md ("Configuring banks per stage") and
docs/decisions/0006-stages-and-bank-config.md describe the shape and the checks.

A stage names its banks as the functions read them (the `BANKS` document: code, adapter, settings,
the lender's accounts there, a rest-signed bank's secret by Secrets Manager name, never a value).
Checked here, so that `cdk synth` fails naming the bank: the document must route
(`scf.service.banks.BankDirectory.from_json`), and a stage other than `local` may not name the
simulated adapter, a plain-HTTP URL or a loopback host.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scf.errors import InvalidInput
from scf.service.banks import BankDirectory

if TYPE_CHECKING:  # no jsii at import: the local stack reads LOCAL_BANK_URL from here
    from constructs import Construct

STAGE_CONTEXT = "stage"
STAGES_CONTEXT = "scf:stages"
DEFAULT_STAGE = "local"
LOCAL_STAGE = "local"
# The URL of a bank played by the local stack's simulated bank; the local stack puts its own
# address in place of this prefix (a path after it is kept).
LOCAL_BANK_URL = "local:simulated-bank"
BANK_CODE = re.compile(r"[A-Z][A-Z0-9]{1,34}")
ACCOUNT_ID = re.compile(r"\d{12}")
SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
STAGE_KEYS = {
    "stackName",
    "banks",
    "policyTimezone",
    "logLevel",
    "alarmEmail",
    "apiThrottle",
    "logRetentionDays",
    "retainData",
    "deletionProtection",
    "reservedConcurrency",
}
# The retention periods CloudWatch Logs accepts (days).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
FUNCTIONS = ("apply_repayment", "disburse", "ingest_settlement", "score_application")
# Settings of a file bank that only the stack reads: the AWS account whose identities may read the
# bank's outbound prefix (without it, AWS Transfer Family's SFTP connector, in this account).
READER_ACCOUNT = "reader_account"


class StackConfigError(ValueError):
    pass


@dataclass(frozen=True)
class StackConfig:
    stage: str
    stack_name: str
    banks: dict[str, Any]  # the BANKS document, as the functions get it
    policy_timezone: str
    log_level: str
    alarm_email: str
    api_rate_limit: float
    api_burst_limit: int
    log_retention_days: int = 90
    retain_data: bool = True  # the table, buckets and user pool outlive the stack (RETAIN)
    deletion_protection: bool = True  # the table and the user pool refuse deletion
    reserved_concurrency: dict[str, int] = field(default_factory=dict)  # function name -> reserved

    @property
    def directory(self) -> BankDirectory:
        return BankDirectory.from_json(self.banks)

    @property
    def banks_json(self) -> str:
        return json.dumps(self.banks, sort_keys=True)

    def banks_with_adapter(self, adapter: str) -> dict[str, dict[str, Any]]:
        return {
            code: bank for code, bank in sorted(self.banks["banks"].items()) if bank["adapter"] == adapter
        }

    @property
    def inbox_partners(self) -> list[str]:
        """Key prefixes of the inbox that are ingested: the platform and every configured bank."""
        return ["platform", *sorted(self.banks["banks"])]

    @classmethod
    def from_context(cls, scope: Construct) -> StackConfig:
        stage = scope.node.try_get_context(STAGE_CONTEXT) or DEFAULT_STAGE
        stages = _json_value(scope.node.try_get_context(STAGES_CONTEXT), STAGES_CONTEXT)
        return stage_config(str(stage), stages)


def _json_value(value: Any, key: str) -> Any:
    """`cdk synth -c key=value` passes strings; cdk.json passes JSON values."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise StackConfigError(f"CDK context {key!r} is not valid JSON: {exc}") from exc
    return value


def stage_config(stage: str, stages: Any) -> StackConfig:
    """The settings of `stage` from the `scf:stages` document, checked."""
    if not isinstance(stages, dict) or not stages:
        raise StackConfigError(f"CDK context {STAGES_CONTEXT!r} is missing (set it in cdk.json)")
    if stage not in stages:
        raise StackConfigError(
            f"stage {stage!r} is not in {STAGES_CONTEXT} (known: {', '.join(sorted(stages))})"
        )
    settings = stages[stage]
    if not isinstance(settings, dict):
        raise StackConfigError(f"stage {stage}: settings must be an object")
    unknown = set(settings) - STAGE_KEYS
    if unknown:
        raise StackConfigError(f"stage {stage}: unknown settings {sorted(unknown)}")
    banks = settings.get("banks")
    if not isinstance(banks, dict):
        raise StackConfigError(f"stage {stage}: 'banks' {{default_bank, banks}} is missing")
    check_banks(stage, banks)
    throttle = settings.get("apiThrottle", {"rateLimit": 100, "burstLimit": 200})
    retention = settings.get("logRetentionDays", 90)
    if retention not in LOG_RETENTION_DAYS:
        raise StackConfigError(
            f"stage {stage}: logRetentionDays {retention!r} is not one of {LOG_RETENTION_DAYS}"
        )
    flags = {key: settings.get(key, True) for key in ("retainData", "deletionProtection")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise StackConfigError(f"stage {stage}: {key} must be true or false")
    return StackConfig(
        stage=stage,
        stack_name=str(settings.get("stackName") or f"scf-{stage}"),
        banks=banks,
        policy_timezone=str(settings.get("policyTimezone", "Asia/Shanghai")),
        log_level=str(settings.get("logLevel", "INFO")),
        alarm_email=str(settings.get("alarmEmail") or ""),
        api_rate_limit=float(throttle["rateLimit"]),
        api_burst_limit=int(throttle["burstLimit"]),
        log_retention_days=int(retention),
        retain_data=flags["retainData"],
        deletion_protection=flags["deletionProtection"],
        reserved_concurrency=reserved_concurrency(stage, settings.get("reservedConcurrency", {})),
    )


def reserved_concurrency(stage: str, value: Any) -> dict[str, int]:
    """`{function: n}`: n >= 2 (an SQS event source's maximum concurrency is at least 2 and is set
    to n, so the queue's poller never invokes beyond it and nothing is throttled into the DLQ)."""
    if not isinstance(value, dict):
        raise StackConfigError(f"stage {stage}: reservedConcurrency must be {{function: count}}")
    for name, count in value.items():
        if name not in FUNCTIONS:
            raise StackConfigError(
                f"stage {stage}: reservedConcurrency names {name!r}, not one of {FUNCTIONS}"
            )
        if not isinstance(count, int) or isinstance(count, bool) or not 2 <= count <= 1000:
            raise StackConfigError(f"stage {stage}: reservedConcurrency of {name} must be 2..1000")
    return dict(value)


def check_banks(stage: str, banks: dict[str, Any]) -> None:
    """Raise StackConfigError naming the stage and the bank unless `banks` may be deployed."""
    try:
        directory = BankDirectory.from_json(banks)
    except InvalidInput as exc:
        raise StackConfigError(f"stage {stage}: {exc.message}") from exc
    for code, bank in directory.banks.items():
        where = f"stage {stage}: bank {code}"
        if not BANK_CODE.fullmatch(code):
            raise StackConfigError(f"{where}: a bank code is 2 to 35 upper-case letters and digits")
        reader = bank.settings.get(READER_ACCOUNT)
        if reader is not None and (bank.adapter != "iso20022-file" or not ACCOUNT_ID.fullmatch(str(reader))):
            raise StackConfigError(f"{where}: {READER_ACCOUNT} is a 12-digit AWS account, for file banks")
        secret = bank.settings.get("secret")
        if secret is not None and (not SECRET_NAME.fullmatch(str(secret)) or str(secret).startswith("arn:")):
            raise StackConfigError(f"{where}: secret is the name of the secret the stack creates")
        if stage == LOCAL_STAGE:
            continue
        if bank.adapter == "simulated":
            raise StackConfigError(f"{where}: the simulated adapter is for the local stage only")
        if "url" in bank.settings:
            problem = url_problem(str(bank.settings["url"]))
            if problem:
                raise StackConfigError(f"{where}: {problem}")


def url_problem(url: str) -> str | None:
    """Why a bank URL may not be used outside the local stage, or None."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return f"the URL {url!r} is not https"
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return f"the URL {url!r} has no host"
    if host == "localhost" or host.endswith(".localhost"):
        return f"the URL {url!r} is a loopback address"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    if address.is_loopback or address.is_unspecified or (mapped is not None and mapped.is_loopback):
        return f"the URL {url!r} is a loopback address"
    return None
