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
from scf.errors import InvalidInput
from scf.service.banks import BankDirectory


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
    banks: BankDirectory | None = None  # BANKS: the functions that pay or read bank files
    outbound_bucket: str | None = None  # OUTBOUND_BUCKET: where file banks' messages are written
    # INBOX_SENDERS: {partner: the IAM unique id of the role that may upload under its prefix}
    inbox_senders: dict[str, str] = field(default_factory=dict)
    clock: str = "system"
    policy_timezone: str = "Asia/Shanghai"

    def bank_directory(self) -> BankDirectory:
        """The banks of this stage; a function that pays or reads bank files cannot start without."""
        if self.banks is None:
            raise ConfigError("BANKS is not set")
        return self.banks

    def bank_accounts(self) -> dict[str, list[str]]:
        """`{bank_code: [the lender's account numbers there]}`: what a statement may be about."""
        if self.banks is None:
            return {}
        return {code: sorted(self.banks.held_accounts(code)) for code in sorted(self.banks.banks)}

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
            banks=bank_directory(_json_env("BANKS", None)),
            outbound_bucket=os.environ.get("OUTBOUND_BUCKET") or None,
            inbox_senders=inbox_senders(_json_env("INBOX_SENDERS", {})),
            clock=os.environ.get("SCF_CLOCK", "system"),
            policy_timezone=os.environ.get("POLICY_TIMEZONE", "Asia/Shanghai"),
        )


def inbox_senders(document: Any) -> dict[str, str]:
    """`INBOX_SENDERS` ({partner: identity}); anything else fails the cold start."""
    if not isinstance(document, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in document.items()
    ):
        raise ConfigError("INBOX_SENDERS must be a JSON object {partner: identity}")
    return dict(document)


def bank_directory(document: Any) -> BankDirectory | None:
    """The `BANKS` document (docs/bank-gateways.md, "Configuring banks per stage") as a directory;
    a document that cannot route fails the cold start, naming the bank."""
    if document is None:
        return None
    if not isinstance(document, dict):
        raise ConfigError("BANKS must be a JSON object {default_bank, banks}")
    try:
        return BankDirectory.from_json(document)
    except InvalidInput as exc:
        raise ConfigError(f"BANKS: {exc.message}") from exc


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
