"""Every custom error of the suite has an HTTP status and a sentence that reads its arguments."""

from __future__ import annotations

import pytest

from ledger_core.chain.compiler import Artifact
from ledger_service.api.reverts import REVERTS, describe, http_status


def suite_errors(artifacts: dict[str, Artifact]) -> dict[str, list[str]]:
    return {item["name"]: [i["name"] for i in item["inputs"]]
            for art in artifacts.values() for item in art.abi if item["type"] == "error"}


def test_every_error_is_listed_with_a_client_error_status(artifacts: dict[str, Artifact]):
    missing = sorted(set(suite_errors(artifacts)) - set(REVERTS))
    assert missing == []
    assert all(400 <= status < 500 for status, _ in REVERTS.values())


def test_every_message_fills_in_from_the_errors_own_argument_names(artifacts: dict[str, Artifact]):
    for name, args in suite_errors(artifacts).items():
        template = REVERTS[name][1]
        fields = {f.split("}")[0] for f in template.split("{")[1:]}
        assert fields <= set(args), f"{name}: {fields - set(args)} not among {args}"


@pytest.mark.parametrize(("error", "status"), [("MissingRole", 403), ("AccountCannotTransact", 403),
                                               ("UnknownOrganisation", 404), ("NotNotarized", 404),
                                               ("AlreadyMember", 409), ("ERC1155InsufficientBalance", 409),
                                               ("ZeroAmount", 422), ("LengthMismatch", 422)])
def test_errors_are_classed_by_meaning(error: str, status: int):
    assert http_status(error, {}) == status


def test_an_inactive_caller_is_forbidden_but_an_inactive_target_is_a_conflict():
    caller = "0x" + "ab" * 20
    assert http_status("MemberNotActive", {"account": caller}, caller) == 403
    assert http_status("MemberNotActive", {"account": "0x" + "cd" * 20}, caller) == 409


def test_errors_added_later_are_classed_by_name():
    assert (http_status("UnknownListing", {}), http_status("AlreadyRetired", {}), http_status("InvalidPrice", {})) == (
        404, 409, 422)


def test_roles_and_statuses_read_as_words():
    role = bytes.fromhex("f7a1a2a0e4d4e5c8f1b1d0e2b4a8f1c3e5d7a9b1c3e5f7a9b1c3e5d7a9b1c3e5")
    from ledger_service.membership import ROLE_IDS

    assert describe("MissingRole", {"account": "0xA", "role": ROLE_IDS["TRADER"]}) == (
        "0xA does not hold the TRADER role as an active member")
    assert describe("MemberNotSuspended", {"account": "0xA", "status": 1}) == "0xA is not suspended (status: active)"
    assert "0x" + role.hex() in describe("InvalidRole", {"role": role})
