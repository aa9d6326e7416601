"""Errors of the bank adapters (the port itself is `scf.service.payments`)."""

from __future__ import annotations

from scf.errors import ScfError


class BankError(ScfError):
    """The bank answered in a way the protocol does not allow (a bug on one side; not retried)."""

    default_code = "BANK_PROTOCOL_ERROR"


class PaymentConflict(BankError):
    """The bank holds another order under this payment id."""

    default_code = "PAYMENT_CONFLICT"
