"""Typed settings of a function, read once at cold start from its environment.

The names are the seam with the CDK stack (docs/architecture.md): the stack sets them, the local
stack copies each function's environment from the synthesized template.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from scf.domain.policy import CreditPolicy, live_policy


class ConfigError(RuntimeError):
    pass


def _json_env(name: str, default: Any) -> Any:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name} is not valid JSON: {exc}") from exc


@dataclass(frozen=True)
class Settings:
    table_name: str
    region: str
    endpoint_url: str | None = None
    inbox_bucket: str | None = None
    settlement_files_queue_url: str | None = None  # ingest_settlement: where continuations go
    bank_accounts: dict[str, list[str]] = field(default_factory=dict)
    lender_account: dict[str, str] = field(default_factory=dict)
    bank_adapters: dict[str, str] = field(default_factory=lambda: {"default": "simulated"})
    simulated_bank_url: str | None = None
    clock: str = "system"
    policy_timezone: str = "Asia/Shanghai"

    @classmethod
    def from_env(cls) -> Settings:
        try:
            table_name = os.environ["TABLE_NAME"]
        except KeyError as exc:
            raise ConfigError("TABLE_NAME is not set") from exc
        return cls(
            table_name=table_name,
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
            inbox_bucket=os.environ.get("INBOX_BUCKET") or None,
            settlement_files_queue_url=os.environ.get("SETTLEMENT_FILES_QUEUE_URL") or None,
            bank_accounts=_json_env("BANK_ACCOUNTS", {}),
            lender_account=_json_env("LENDER_ACCOUNT", {}),
            bank_adapters=_json_env("BANK_ADAPTERS", {"default": "simulated"}),
            simulated_bank_url=os.environ.get("SIMULATED_BANK_URL") or None,
            clock=os.environ.get("SCF_CLOCK", "system"),
            policy_timezone=os.environ.get("POLICY_TIMEZONE", "Asia/Shanghai"),
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The settings of this process (cached: read once per cold start)."""
    return Settings.from_env()


def live_policy_checked(config: Settings) -> CreditPolicy:
    """The live policy (CREDIT_POLICY_VERSION), refused at cold start unless its time zone is
    POLICY_TIMEZONE: "today" is the business date in the policy's zone (contract section 2)."""
    policy = live_policy(os.environ)
    if policy.timezone != config.policy_timezone:
        raise ConfigError(
            f"policy {policy.policy_version} is in time zone {policy.timezone}, "
            f"POLICY_TIMEZONE is {config.policy_timezone}: set both to the same zone"
        )
    return policy
