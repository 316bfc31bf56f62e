"""Signing in to the console as a browser would: the sign-in page's CSRF cookie, then a form."""

from __future__ import annotations

import html
import re

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from ledger_service.api.app import create_app
from ledger_service.runtime import Runtime


def browser(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime), base_url="http://testserver", follow_redirects=False)


def csrf_of(client: TestClient) -> str:
    if client.cookies.get("cl_csrf") is None:
        client.get("/console/sign-in")
    token = client.cookies.get("cl_csrf")
    assert token
    return token


def sign_in_with_key(client: TestClient, api_key: str) -> None:
    reply = client.post("/console/sign-in/key", data={"api_key": api_key, "csrf": csrf_of(client)})
    assert reply.status_code == 303, reply.text
    assert reply.headers["location"] == "/console/"


def challenge(client: TestClient, address: str) -> str:
    """The Sign-In with Ethereum message the console asks `address` to sign."""
    reply = client.post("/console/sign-in/challenge", data={"address": address, "csrf": csrf_of(client)})
    assert reply.status_code == 200, reply.text
    found = re.search(r'<textarea id="message"[^>]*>(.*?)</textarea>', reply.text, re.S)
    assert found is not None
    return html.unescape(found.group(1))


def wallet_signature(wallet: LocalAccount, message: str) -> str:
    """What a wallet's `personal_sign` gives for the message (EIP-191)."""
    return "0x" + Account.sign_message(encode_defunct(text=message), wallet.key).signature.hex().removeprefix("0x")


def send_siwe(client: TestClient, message: str, signature: str) -> object:
    return client.post("/console/sign-in/siwe", data={"message": message, "signature": signature,
                                                      "csrf": csrf_of(client)})
