"""The banks the lender works with, as configured per stage (contract section 7), and the routing
rule: a payment goes through the supplier's own bank when the lender holds an account there (on-us,
from that account), else through the default bank from the lender's account there."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scf.errors import InvalidInput
from scf.service.payments import Account

ADAPTERS = ("simulated", "iso20022-file", "rest-signed")


@dataclass(frozen=True)
class BankConfig:
    """One bank: its adapter, the adapter's settings (never a secret's value: a reference to it),
    and the lender's accounts there, the first being the operating account."""

    code: str
    adapter: str
    accounts: tuple[Account, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def operating_account(self) -> Account:
        return self.accounts[0]

    @property
    def account_numbers(self) -> frozenset[str]:
        return frozenset(account.account_number for account in self.accounts)


@dataclass(frozen=True)
class Route:
    bank_code: str  # the bank the order is sent to
    lender: Account  # the lender's account at that bank
    on_us: bool


@dataclass(frozen=True)
class BankDirectory:
    default_bank: str
    banks: Mapping[str, BankConfig]

    def __post_init__(self) -> None:
        if self.default_bank not in self.banks:
            raise InvalidInput(
                f"the default bank {self.default_bank!r} is not configured", field="default_bank"
            )

    def route(self, supplier_account: Account) -> Route:
        """Where a payment to or from `supplier_account` goes (contract section 7)."""
        bank = self.banks.get(supplier_account.bank_code)
        if bank is not None:
            return Route(bank.code, bank.operating_account, on_us=True)
        default = self.banks[self.default_bank]
        return Route(default.code, default.operating_account, on_us=False)

    def held_accounts(self, bank_code: str) -> frozenset[str]:
        """The lender's account numbers at `bank_code` (a statement about any other is refused)."""
        bank = self.banks.get(bank_code)
        return bank.account_numbers if bank else frozenset()

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> BankDirectory:
        """From the `BANKS` setting: `{"default_bank": CODE, "banks": {CODE: {"adapter": ...,
        "accounts": [{"account_number", "name"}], ...adapter settings}}}`. Every refusal names the
        bank it is about."""
        try:
            raw_banks = dict(document["banks"])
            default_bank = str(document["default_bank"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"BANKS is not a bank directory: missing {exc}", field="BANKS") from exc
        banks = {str(code): _bank(str(code), raw) for code, raw in raw_banks.items()}
        return cls(default_bank=default_bank, banks=banks)


# Settings each adapter needs (docs/bank-gateways.md, "Configuring banks per stage"); the message
# versions a file bank may choose, the first being the default.
REQUIRED_SETTINGS = {"simulated": ("url",), "iso20022-file": (), "rest-signed": ("url", "key_id", "secret")}
MESSAGE_VERSIONS = {
    "pain001": ("pain.001.001.03", "pain.001.001.09"),
    "pain008": ("pain.008.001.02", "pain.008.001.08"),
}


def _bank(code: str, raw: Any) -> BankConfig:
    try:
        adapter = str(raw["adapter"])
        accounts = tuple(
            Account(bank_code=code, account_number=str(a["account_number"]), name=str(a["name"]))
            for a in raw["accounts"]
        )
        settings = {k: v for k, v in raw.items() if k not in ("adapter", "accounts")}
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"BANKS: bank {code}: missing or malformed {exc}", field="BANKS") from exc
    if adapter not in ADAPTERS:
        raise InvalidInput(f"bank {code}: unknown adapter {adapter!r}", field="adapter")
    if not accounts:
        raise InvalidInput(f"bank {code}: the lender holds no account there", field="accounts")
    for name in REQUIRED_SETTINGS[adapter]:
        if not isinstance(settings.get(name), str) or not settings[name]:
            raise InvalidInput(f"bank {code}: the {adapter} adapter needs {name!r}", field=name)
    if adapter == "iso20022-file":
        for name, versions in MESSAGE_VERSIONS.items():
            if name in settings and settings[name] not in versions:
                raise InvalidInput(
                    f"bank {code}: {name} must be one of {', '.join(versions)}, not {settings[name]!r}",
                    field=name,
                )
    return BankConfig(code=code, adapter=adapter, accounts=accounts, settings=settings)
