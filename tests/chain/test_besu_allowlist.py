"""Besu's local account allowlist follows Membership (tested against a stub PERM JSON-RPC node)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from eth_account import Account

from ledger_core.chain.besu_allowlist import AllowlistError, BesuPermRpc, sync_allowlists, wanted_accounts
from tests.support.cast import MEMBERS
from tests.support.ledger import Ledger


class StubBesu:
    """Answers the three PERM methods like a Besu node with a local allowlist."""

    def __init__(self, initial: set[str], refuse_adds: bool = False) -> None:
        self.allowlist = set(initial)
        self.calls: list[str] = []
        self.refuse_adds = refuse_adds
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.calls.append(req["method"])
                reply: dict = {"jsonrpc": "2.0", "id": req["id"]}
                if req["method"] == "perm_getAccountsAllowlist":
                    reply["result"] = sorted(stub.allowlist)
                elif req["method"] == "perm_addAccountsToAllowlist" and stub.refuse_adds:
                    reply["error"] = {"code": -32000, "message": "Accounts allowlist not enabled"}
                elif req["method"] == "perm_addAccountsToAllowlist":
                    stub.allowlist |= set(req["params"][0])
                    reply["result"] = "Success"
                elif req["method"] == "perm_removeAccountsFromAllowlist":
                    stub.allowlist -= set(req["params"][0])
                    reply["result"] = "Success"
                else:
                    reply["error"] = {"code": -32601, "message": "Method not found"}
                body = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> StubBesu:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stranger_in_allowlist(ledger: Ledger) -> Iterator[StubBesu]:
    with StubBesu({ledger.address("stranger")}) as node:
        yield node


def _sync(ledger: Ledger, nodes: list[StubBesu], **kwargs):
    return sync_allowlists(
        ledger.contract("Membership"), ledger.deployment.block, [BesuPermRpc(n.url) for n in nodes], **kwargs
    )


def test_the_wanted_list_is_every_active_member_plus_the_deployer(ledger: Ledger):
    wanted = wanted_accounts(ledger.contract("Membership"), ledger.deployment.block)
    assert wanted == {ledger.address(a) for a in ("regulator", *MEMBERS)}


def test_sync_adds_members_and_removes_strangers_on_every_node(ledger: Ledger, stranger_in_allowlist: StubBesu):
    with StubBesu(set()) as second:
        changes = _sync(ledger, [stranger_in_allowlist, second])
        for node in (stranger_in_allowlist, second):
            assert node.allowlist == {ledger.address(a) for a in ("regulator", *MEMBERS)}
        assert changes[0].removed == (ledger.address("stranger"),)
        assert ledger.address("verifier") in changes[1].added


def test_a_suspended_member_leaves_the_allowlist_and_returns_when_reinstated(ledger: Ledger):
    with StubBesu(set()) as node:
        _sync(ledger, [node])
        ledger.tx("regulator", "Membership", "suspend", ledger.address("trader"), b"\x01" * 32)
        change = _sync(ledger, [node])[0]
        assert change.removed == (ledger.address("trader"),) and change.added == ()
        assert ledger.address("trader") not in node.allowlist
        ledger.tx("regulator", "Membership", "reinstate", ledger.address("trader"))
        assert _sync(ledger, [node])[0].added == (ledger.address("trader"),)


def test_revoked_members_are_removed_and_kept_accounts_never_are(ledger: Ledger):
    validator = Account.create().address
    with StubBesu({validator}) as node:
        ledger.tx("regulator", "Membership", "revoke", ledger.address("trader2"), b"\x02" * 32)
        _sync(ledger, [node], keep=[validator])
        assert validator in node.allowlist
        assert ledger.address("trader2") not in node.allowlist


def test_a_dry_run_reports_without_changing_the_node(ledger: Ledger, stranger_in_allowlist: StubBesu):
    change = _sync(ledger, [stranger_in_allowlist], dry_run=True)[0]
    assert change.removed == (ledger.address("stranger"),)
    assert stranger_in_allowlist.allowlist == {ledger.address("stranger")}
    assert "perm_removeAccountsFromAllowlist" not in stranger_in_allowlist.calls


def test_a_node_that_refuses_is_reported_with_its_message(ledger: Ledger):
    with StubBesu(set(), refuse_adds=True) as node, pytest.raises(AllowlistError, match="allowlist not enabled"):
        _sync(ledger, [node])
