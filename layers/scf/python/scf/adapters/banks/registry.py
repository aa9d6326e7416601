"""The gateway serving each configured bank (CONTRACT.md section 7): one gateway per bank of the
`BANKS` document, built the first time it is asked for and kept for the process, by the bank's
`adapter`:

- `simulated`: `SimulatedBankGateway(url)` (imported when first used, as every adapter);
- `iso20022-file`: `Iso20022FileGateway(bank, bucket=OUTBOUND_BUCKET, ...)` (imported when a file
  bank is first used);
- `rest-signed`: `RestSignedBankGateway(url, key_id, SecretsManagerSecrets({key_id: secret}))`, with
  the bank's optional `timeout` `[connect, read]` seconds and `attempts`.

A bank code the lender holds no account at is served by the default bank's gateway: that is where
an off-us payment goes (`scf.service.banks.BankDirectory.route`).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scf.clock import Clock, SystemClock
from scf.config import ConfigError, Settings
from scf.service.banks import BankConfig, BankDirectory
from scf.service.payments import Account, BankGateway, Gateways

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer


@dataclass(frozen=True)
class GatewayContext:
    """What a factory may use besides the bank's own settings."""

    settings: Settings
    clock: Clock


Factory = Callable[[BankConfig, GatewayContext], BankGateway]


def _simulated(bank: BankConfig, context: GatewayContext) -> BankGateway:
    # Imported when the first payment goes to this bank: `requests` is cold-start time that the
    # daily steps, the API routes and a file bank's payments do not need (docs/benchmarks.md).
    from scf.adapters.banks.simulated import SimulatedBankGateway

    return SimulatedBankGateway(str(bank.settings["url"]))


def _iso20022_file(bank: BankConfig, context: GatewayContext) -> BankGateway:
    # Imported by name: the file gateway is its own module, loaded only where a file bank is used.
    module = importlib.import_module("scf.adapters.banks.iso20022_file")
    bucket = context.settings.outbound_bucket
    if not bucket:
        raise ConfigError(f"bank {bank.code}: OUTBOUND_BUCKET is not set but the bank takes files")
    gateway: BankGateway = module.Iso20022FileGateway(
        bank, bucket=bucket, endpoint_url=context.settings.endpoint_url, clock=context.clock
    )
    return gateway


def _rest_signed(bank: BankConfig, context: GatewayContext) -> BankGateway:
    from scf.adapters.banks.rest_signed import RestSignedBankGateway
    from scf.adapters.secrets import SecretsManagerSecrets

    key_id = str(bank.settings["key_id"])
    timeout = bank.settings.get("timeout")
    options: dict[str, Any] = {}
    if timeout is not None:
        if not (isinstance(timeout, list) and len(timeout) == 2):
            raise ConfigError(f"bank {bank.code}: timeout must be [connect, read] seconds")
        options["timeout"] = (float(timeout[0]), float(timeout[1]))  # float-ok: seconds
    if "attempts" in bank.settings:
        options["attempts"] = int(bank.settings["attempts"])
    return RestSignedBankGateway(
        str(bank.settings["url"]),
        key_id,
        SecretsManagerSecrets({key_id: str(bank.settings["secret"])}),
        bank_code=bank.code,
        clock=context.clock,
        **options,
    )


FACTORIES: dict[str, Factory] = {
    "simulated": _simulated,
    "iso20022-file": _iso20022_file,
    "rest-signed": _rest_signed,
}


class GatewayRegistry(Gateways):
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        factories: Mapping[str, Factory] | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.directory = settings.bank_directory()
        self._context = GatewayContext(settings=settings, clock=clock or SystemClock())
        self._factories = dict(factories or FACTORIES)
        unknown = {b.adapter for b in self.directory.banks.values()} - set(self._factories)
        if unknown:
            raise ConfigError(f"BANKS names adapters without a gateway: {sorted(unknown)}")
        self._built: dict[str, BankGateway] = {}
        self._lock = threading.Lock()
        self._tracer = tracer  # given: every bank call is a subsegment with a log line

    def bank_for(self, bank_code: str) -> BankConfig:
        """The configured bank that serves `bank_code`: itself, or the default bank."""
        banks = self.directory.banks
        return banks.get(bank_code) or banks[self.directory.default_bank]

    def for_bank(self, bank_code: str) -> BankGateway:
        bank = self.bank_for(bank_code)
        with self._lock:
            if bank.code not in self._built:
                gateway = self._factories[bank.adapter](bank, self._context)
                if self._tracer is not None:
                    from scf.adapters.observability import TracedGateway

                    gateway = TracedGateway(gateway, bank.code, self._tracer)
                self._built[bank.code] = gateway
            return self._built[bank.code]


def default_lender_account(directory: BankDirectory) -> Account:
    """The lender's operating account at the default bank: where off-us payouts come from and
    off-us collections go to."""
    return directory.banks[directory.default_bank].operating_account
