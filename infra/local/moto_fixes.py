"""Fixes to the embedded AWS emulator (moto) that make it usable at scale, installed by the local
stack and by the tests and benchmarks that write many items.

moto's `TransactWriteItems` backs up the whole table (`copy.deepcopy`, stream records included)
once per action before applying a transaction, so a transaction costs actions x table size: a
98-action chunk of document ingestion into a table of 100,000 items took seconds, and a
1,000,000-row file never finished (docs/benchmarks.md, "Settlement ingestion"). The replacement
keeps DynamoDB's semantics: every action's condition is evaluated against the state before the
transaction (an item appears at most once in a transaction, so no action sees another's write);
only if all hold are the writes applied, and a write that fails part way puts back the items
already written (copies of those items only).
"""

from __future__ import annotations

import copy
from typing import Any

_INSTALLED = {"done": False}


def install() -> None:
    """Replace moto's DynamoDB `transact_write_items` (idempotent)."""
    if _INSTALLED["done"]:
        return
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models import get_filter_expression as filter_expression

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        targets: set[tuple[str, str]] = set()
        planned: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
        errors: list[tuple[str | None, str | None, Any]] = []
        for item in transact_items:
            if len(item) > 1:
                raise TransactWriteSingleOpException
            op_type, op = next(iter(item.items()))
            original_item = None
            try:
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table_name = op["TableName"]
                if op_type == "Put":
                    table = self.get_table(table_name)
                    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = op["Item"][table.range_key_attr]
                else:
                    key = op["Key"]
                target = (str(table_name), str(dict(sorted(key.items()))))
                if target in targets:
                    raise MultipleTransactionsException()
                targets.add(target)
                current = self.get_item(table_name, key)
                condition = op.get("ConditionExpression")
                if condition is not None:
                    check = filter_expression(
                        condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                    )
                    if not check.expr(current):
                        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original_item)
                planned.append((op_type, table_name, key, op))
                errors.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                raise
            except ConditionalCheckFailed as exc:
                errors.append(("ConditionalCheckFailed", str(exc.message), original_item))
            except Exception as exc:
                errors.append((type(exc).__name__, str(exc), original_item))
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)

        written: list[tuple[str, dict[str, Any], Any]] = []
        try:
            for op_type, table_name, key, op in planned:
                if op_type == "ConditionCheck":
                    continue
                written.append((table_name, key, copy.deepcopy(self.get_item(table_name, key))))
                names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    self.put_item(
                        table_name,
                        op["Item"],
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                elif op_type == "Delete":
                    self.delete_item(
                        table_name, key, expression_attribute_names=names, expression_attribute_values=values
                    )
                else:
                    self.update_item(
                        table_name,
                        key,
                        update_expression=op["UpdateExpression"],
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
        except Exception:
            for table_name, key, before in reversed(written):
                if before is None:
                    self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, before.to_json()["Attributes"])
            raise

    DynamoDBBackend.transact_write_items = transact_write_items
    _INSTALLED["done"] = True
