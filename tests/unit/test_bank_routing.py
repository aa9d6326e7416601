"""Contract section 7: on-us routing, and the bank directory read from its settings document."""

from __future__ import annotations

import pytest

from scf.errors import InvalidInput
from scf.service.banks import BankDirectory
from scf.service.payments import Account

pytestmark = pytest.mark.unit

DOCUMENT = {
    "default_bank": "SIMBANK",
    "banks": {
        "SIMBANK": {
            "adapter": "simulated",
            "url": "http://127.0.0.1:8090",
            "accounts": [{"account_number": "LENDER-SIM-001", "name": "SCF Lender"}],
        },
        "FILEBANK": {
            "adapter": "iso20022-file",
            "pain001": "pain.001.001.09",
            "accounts": [
                {"account_number": "LENDER-FILE-001", "name": "SCF Lender"},
                {"account_number": "LENDER-FILE-002", "name": "SCF Lender collections"},
            ],
        },
    },
}


def supplier_at(bank_code: str) -> Account:
    return Account(bank_code=bank_code, account_number="6222000011112222", name="Supplier")


def test_a_supplier_at_a_bank_where_the_lender_holds_an_account_is_paid_on_us() -> None:
    directory = BankDirectory.from_json(DOCUMENT)

    route = directory.route(supplier_at("FILEBANK"))

    assert (route.bank_code, route.lender.account_number, route.on_us) == (
        "FILEBANK",
        "LENDER-FILE-001",
        True,
    )


def test_a_supplier_at_another_bank_is_paid_through_the_default_bank() -> None:
    directory = BankDirectory.from_json(DOCUMENT)

    route = directory.route(supplier_at("OTHERBANK"))

    assert route.bank_code == "SIMBANK" and not route.on_us
    assert route.lender.account_number == "LENDER-SIM-001"


def test_adapter_settings_are_kept_and_accounts_are_not_settings() -> None:
    directory = BankDirectory.from_json(DOCUMENT)

    bank = directory.banks["FILEBANK"]

    assert dict(bank.settings) == {"pain001": "pain.001.001.09"}


def test_the_lender_holds_every_listed_account_at_its_bank() -> None:
    directory = BankDirectory.from_json(DOCUMENT)

    held = directory.held_accounts("FILEBANK")

    assert held == {"LENDER-FILE-001", "LENDER-FILE-002"} and directory.held_accounts("NOPE") == set()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"default_bank": "NOPE"}, "default_bank"),
        (
            {
                "banks": {
                    "SIMBANK": {
                        "adapter": "carrier-pigeon",
                        "accounts": [{"account_number": "1", "name": "x"}],
                    }
                }
            },
            "adapter",
        ),
        ({"banks": {"SIMBANK": {"adapter": "simulated", "accounts": []}}}, "accounts"),
        ({"banks": {"SIMBANK": {"accounts": []}}}, "BANKS"),
    ],
)
def test_a_directory_that_cannot_route_is_refused_naming_the_field(
    change: dict[str, object], field: str
) -> None:
    document = {**DOCUMENT, **change}

    with pytest.raises(InvalidInput) as refused:
        BankDirectory.from_json(document)

    assert refused.value.field == field
