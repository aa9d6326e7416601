"""Who uploaded a file, as an S3 notification names them, and the INBOX_SENDERS setting
(docs/ingestion.md, "Who sent a file")."""

from __future__ import annotations

import pytest

from scf.adapters.s3 import uploader_id
from scf.config import ConfigError, inbox_senders


@pytest.mark.parametrize(
    ("principal_id", "expected"),
    [
        ("AWS:AROAEXAMPLEROLEID:platform-upload", "AROAEXAMPLEROLEID"),  # an assumed role's session
        ("AWS:AIDAEXAMPLEUSERID", "AIDAEXAMPLEUSERID"),  # an IAM user
        ("A3NL1KOZZKEXAMPLE", "A3NL1KOZZKEXAMPLE"),  # a canonical id: never a partner's role
        ("", None),
        (None, None),
    ],
)
def test_the_uploader_is_the_iam_unique_id_of_the_principal(principal_id, expected) -> None:
    assert uploader_id(principal_id) == expected


def test_inbox_senders_is_a_map_of_partner_to_identity() -> None:
    assert inbox_senders({"platform": "AROA1"}) == {"platform": "AROA1"}
    for bad in (["AROA1"], {"platform": ""}, {"platform": 1}):
        with pytest.raises(ConfigError):
            inbox_senders(bad)
