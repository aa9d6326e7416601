"""Which adapter serves a bank: `BANK_ADAPTERS` = {"default": "simulated", "<bank_code>": "<adapter>"}.
Adapters are built once per process and per adapter name."""

from __future__ import annotations

from collections.abc import Callable

from scf.adapters.banks.simulated import SimulatedBankGateway
from scf.config import ConfigError, Settings
from scf.service.payments import Account, BankGateway, Gateways


def _simulated(settings: Settings) -> BankGateway:
    if not settings.simulated_bank_url:
        raise ConfigError("SIMULATED_BANK_URL is not set but the simulated bank adapter is configured")
    return SimulatedBankGateway(settings.simulated_bank_url)


FACTORIES: dict[str, Callable[[Settings], BankGateway]] = {"simulated": _simulated}


class GatewayRegistry(Gateways):
    def __init__(
        self, settings: Settings, factories: dict[str, Callable[[Settings], BankGateway]] | None = None
    ):
        self._settings = settings
        self._factories = factories or FACTORIES
        self._built: dict[str, BankGateway] = {}
        unknown = set(settings.bank_adapters.values()) - set(self._factories)
        if unknown:
            raise ConfigError(f"BANK_ADAPTERS names unknown adapters: {sorted(unknown)}")
        if "default" not in settings.bank_adapters:
            raise ConfigError('BANK_ADAPTERS needs a "default" adapter')

    def adapter_name(self, bank_code: str) -> str:
        return self._settings.bank_adapters.get(bank_code) or self._settings.bank_adapters["default"]

    def for_bank(self, bank_code: str) -> BankGateway:
        name = self.adapter_name(bank_code)
        if name not in self._built:
            self._built[name] = self._factories[name](self._settings)
        return self._built[name]


def lender_account(settings: Settings) -> Account:
    """The lender's operating account (`LENDER_ACCOUNT`): source of payouts, target of collections."""
    raw = settings.lender_account
    try:
        return Account(bank_code=raw["bank_code"], account_number=raw["account_number"], name=raw["name"])
    except (KeyError, TypeError) as exc:
        raise ConfigError("LENDER_ACCOUNT must be JSON {bank_code, account_number, name}") from exc
