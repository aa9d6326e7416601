"""Settings of the stack, read from the CDK context (cdk.json `scf:*` keys)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from constructs import Construct


class StackConfigError(ValueError):
    pass


@dataclass(frozen=True)
class StackConfig:
    stack_name: str
    bank_accounts: dict[str, list[str]]
    lender_account: dict[str, str]
    bank_adapters: dict[str, str]
    simulated_bank_url: str
    policy_timezone: str
    log_level: str
    alarm_email: str
    api_rate_limit: float
    api_burst_limit: int

    @property
    def inbox_partners(self) -> list[str]:
        """Key prefixes of the inbox that are ingested: the platform and every configured bank."""
        return ["platform", *sorted(self.bank_accounts)]

    @classmethod
    def from_context(cls, scope: Construct) -> StackConfig:
        def get(key: str, default: Any = None) -> Any:
            value = scope.node.try_get_context(key)
            if value is None:
                if default is None:
                    raise StackConfigError(f"CDK context {key!r} is missing (set it in cdk.json)")
                return default
            # `cdk synth -c key=value` passes strings; cdk.json passes JSON values.
            if isinstance(value, str) and isinstance(default, dict | list):
                try:
                    return json.loads(value)
                except json.JSONDecodeError as exc:
                    raise StackConfigError(f"CDK context {key!r} is not valid JSON: {exc}") from exc
            return value

        bank_accounts = get("scf:bankAccounts", {})
        if not isinstance(bank_accounts, dict) or not all(
            isinstance(accounts, list) and all(isinstance(a, str) for a in accounts)
            for accounts in bank_accounts.values()
        ):
            raise StackConfigError("scf:bankAccounts must map bank codes to lists of account ids")
        lender_account = get("scf:lenderAccount", {})
        missing = {"bank_code", "account_number", "name"} - set(lender_account)
        if missing:
            raise StackConfigError(f"scf:lenderAccount lacks {sorted(missing)}")
        bank_adapters = get("scf:bankAdapters", {"default": "simulated"})
        if "default" not in bank_adapters:
            raise StackConfigError('scf:bankAdapters needs a "default" adapter')
        throttle = get("scf:apiThrottle", {"rateLimit": 100, "burstLimit": 200})
        return cls(
            stack_name=str(get("scf:stackName", "scf")),
            bank_accounts=bank_accounts,
            lender_account=lender_account,
            bank_adapters=bank_adapters,
            simulated_bank_url=str(get("scf:simulatedBankUrl", "")),
            policy_timezone=str(get("scf:policyTimezone", "Asia/Shanghai")),
            log_level=str(get("scf:logLevel", "INFO")),
            alarm_email=str(scope.node.try_get_context("scf:alarmEmail") or ""),
            api_rate_limit=float(throttle["rateLimit"]),
            api_burst_limit=int(throttle["burstLimit"]),
        )
