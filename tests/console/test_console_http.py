"""The console over plain HTTP (no browser needed): sign-in with an API key and with Sign-In with Ethereum,
sessions and their cookies, CSRF on every form, and the refusals, which are the API's own (the same use cases
and the same standing check)."""

from __future__ import annotations

import re
from datetime import timedelta

from eth_account import Account
from sqlalchemy import update

from ledger_core.db.models import ConsoleChallenge
from ledger_core.db.models.types import utc_now
from ledger_service.demo import cast as demo_cast
from ledger_service.services.wiring import build_services
from tests.console.conftest import FIRST, PARK, SECOND, YEAR, Park
from tests.console.helpers import browser, challenge, csrf_of, send_siwe, sign_in_with_key, wallet_signature


def test_a_signed_out_browser_is_sent_to_sign_in_from_every_page(park: Park):
    client = browser(park.runtime)
    for page in ("/console/", f"/console/parks/{PARK}?year={YEAR}", f"/console/parks/{PARK}/drilldown",
                 f"/console/enterprises/{FIRST}", "/console/members", "/console/readings/1"):
        reply = client.get(page)
        assert reply.status_code == 303, page
        assert reply.headers["location"].startswith("/console/sign-in?next=/console/"), page


def test_the_regulator_signs_in_with_an_api_key_and_opens_every_page(park: Park):
    client = browser(park.runtime)
    sign_in_with_key(client, park.keys["regulator"])
    home = client.get("/console/")
    assert home.status_code == 200
    assert f'href="/console/parks/{PARK}?year=' in home.text and 'href="/console/members"' in home.text
    dashboard = client.get(f"/console/parks/{PARK}?year={YEAR}")
    assert dashboard.status_code == 200
    assert 'id="compliance-table"' in dashboard.text and "<svg" in dashboard.text and "tCO2e" in dashboard.text
    assert dashboard.text.count("/console/enterprises/") == 5  # every enterprise's row
    tree = client.get(f"/console/parks/{PARK}/drilldown?year={YEAR}&verify=true")
    assert tree.status_code == 200 and "differs from anchor" not in tree.text
    device = re.search(r'href="(/console/devices/[^"]+/readings)"', tree.text)
    assert device is not None
    readings = client.get(device.group(1))
    reading = re.search(r'href="(/console/readings/\d+)"', readings.text)
    assert reading is not None
    proof = client.get(reading.group(1))
    assert proof.status_code == 200 and "Proof accepted by MeterAnchor.verifyReading" in proof.text
    assert client.get(f"/console/enterprises/{FIRST}?year={YEAR}").status_code == 200
    assert client.get("/console/members").status_code == 200


def test_the_session_cookie_is_httponly_strict_and_secure_over_https(park: Park):
    for scheme in ("http", "https"):
        client = browser(park.runtime)
        client.base_url = client.base_url.copy_with(scheme=scheme)  # type: ignore[assignment]
        client.get("/console/sign-in")
        reply = client.post("/console/sign-in/key", data={"api_key": park.keys["regulator"],
                                                          "csrf": client.cookies.get("cl_csrf")})
        cookies = [c for c in reply.headers.get_list("set-cookie") if c.startswith("cl_session=")]
        assert len(cookies) == 1
        flags = cookies[0].lower()
        assert "httponly" in flags and "samesite=strict" in flags and "path=/console" in flags
        assert ("secure" in flags.split("; ")) == (scheme == "https")


def test_the_session_row_keeps_no_usable_token(park: Park):
    client = browser(park.runtime)
    sign_in_with_key(client, park.keys["regulator"])
    token = client.cookies.get("cl_session")
    assert token is not None
    with park.runtime.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT token_hash, csrf_hash FROM console_sessions").all()
    assert rows and all(token.encode() not in bytes(h) and len(bytes(h)) == 32 for row in rows for h in row)


def test_an_enterprise_cannot_open_another_enterprises_pages(park: Park):
    client = browser(park.runtime)
    sign_in_with_key(client, park.keys[f"enterprise-{FIRST}"])
    assert client.get(f"/console/enterprises/{FIRST}?year={YEAR}").status_code == 200
    refused = client.get(f"/console/enterprises/{SECOND}?year={YEAR}")
    assert refused.status_code == 403
    assert 'id="error-code">NotYourData<' in refused.text
    assert client.get("/console/members").status_code == 403  # the regulator's page: MissingRole, as the API says
    # The park view opens for a member of one of its enterprises, with the park total and its own row only.
    dashboard = client.get(f"/console/parks/{PARK}?year={YEAR}")
    assert dashboard.status_code == 200
    assert re.findall(r'href="/console/enterprises/(\d+)', dashboard.text) == [str(FIRST)]


def test_a_refusal_is_explained_in_the_pages_language_beside_the_ledgers_own_message(park: Park):
    client = browser(park.runtime)
    sign_in_with_key(client, park.keys[f"enterprise-{FIRST}"])
    assert client.post("/console/language", data={"language": "zh-CN", "csrf": csrf_of(client)}).status_code == 303
    refused = client.get(f"/console/enterprises/{SECOND}?year={YEAR}")
    assert refused.status_code == 403
    assert "该记录属于您的角色无权查看的组织。" in refused.text
    assert '<span lang="en">compliance status is visible to the enterprise' in refused.text  # the use case's own
    unknown = client.get("/console/readings/999999999")
    assert unknown.status_code == 404 and "没有该读数。" in unknown.text


def test_a_member_without_a_park_view_is_refused_the_dashboard(park: Park):
    client = browser(park.runtime)
    sign_in_with_key(client, park.keys["trader_a"])
    assert client.get(f"/console/parks/{PARK}?year={YEAR}").status_code == 403
    home = client.get("/console/")
    assert home.status_code == 200 and "/console/parks/" not in home.text


def test_a_form_without_this_browsers_csrf_token_is_refused(park: Park):
    client = browser(park.runtime)
    csrf_of(client)
    for data in ({"api_key": park.keys["regulator"]}, {"api_key": park.keys["regulator"], "csrf": "forged"}):
        reply = client.post("/console/sign-in/key", data=data)
        assert reply.status_code == 403 and "CsrfRefused" in reply.text
        assert client.cookies.get("cl_session") is None
    sign_in_with_key(client, park.keys["regulator"])
    trader = park.runtime.directory.member(next(iter(_addresses(park, "trader_a"))))
    # A page of another site posting with its own cookie-less token, or a token of another browser: refused.
    other = browser(park.runtime)
    for token in ("forged", csrf_of(other)):
        reply = client.post(f"/console/members/{trader.address}/freeze", data={"csrf": token, "reason": "x"})
        assert reply.status_code == 403 and "CsrfRefused" in reply.text
    park.runtime.directory.forget(trader.address)
    assert not park.runtime.directory.member(trader.address).frozen


def test_the_csrf_token_chosen_before_sign_in_is_not_the_sessions(park: Park):
    client = browser(park.runtime)
    before = csrf_of(client)
    sign_in_with_key(client, park.keys["regulator"])
    assert client.cookies.get("cl_csrf") != before
    reply = client.post("/console/language", data={"language": "zh-CN", "csrf": before, "next": "/console/"})
    assert reply.status_code == 403


def test_the_regulator_freezes_and_unfreezes_a_member_through_the_forms(park: Park):
    client = browser(park.runtime)
    sign_in_with_key(client, park.keys["regulator"])
    (trader,) = _addresses(park, "trader_a")
    page = client.get("/console/members")
    assert f'action="/console/members/{trader}/freeze"' in page.text
    reply = client.post(f"/console/members/{trader}/freeze", data={"csrf": csrf_of(client), "reason": "court order"})
    assert reply.status_code == 303, reply.text
    assert park.runtime.directory.member(trader).frozen
    reply = client.post(f"/console/members/{trader}/unfreeze", data={"csrf": csrf_of(client)})
    assert reply.status_code == 303, reply.text
    assert not park.runtime.directory.member(trader).frozen


def test_an_enterprise_signs_in_with_its_own_key(park: Park):
    client = browser(park.runtime)
    message = challenge(client, park.wallet.address)
    assert message.startswith("testserver wants you to sign in with your Ethereum account:\n" + park.wallet.address)
    assert "URI: http://testserver/console/\n" in message
    assert f"Chain ID: {park.runtime.deployment.chain_id}\n" in message
    reply = send_siwe(client, message, wallet_signature(park.wallet, message))
    assert reply.status_code == 303, reply.text
    home = client.get("/console/")
    assert f'href="/console/enterprises/{FIRST}?year=' in home.text
    assert client.get(f"/console/enterprises/{FIRST}?year={YEAR}").status_code == 200
    assert client.get(f"/console/enterprises/{SECOND}?year={YEAR}").status_code == 403


def test_a_replayed_siwe_message_is_refused(park: Park):
    client = browser(park.runtime)
    message = challenge(client, park.wallet.address)
    signature = wallet_signature(park.wallet, message)
    assert send_siwe(client, message, signature).status_code == 303
    again = browser(park.runtime)
    replay = send_siwe(again, message, signature)
    assert replay.status_code == 401 and "nonce already used" in replay.text
    assert again.cookies.get("cl_session") is None


def test_a_siwe_message_altered_or_signed_by_another_key_is_refused(park: Park):
    client = browser(park.runtime)
    message = challenge(client, park.wallet.address)
    cases = {
        "the signature is not the address&#39;s": (message, wallet_signature(Account.create(), message)),
        "not the time the nonce was issued": (
            re.sub(r"Issued At: \S+", "Issued At: 2020-01-01T00:00:00Z", message),
            wallet_signature(park.wallet, re.sub(r"Issued At: \S+", "Issued At: 2020-01-01T00:00:00Z", message))),
        "is for domain evil.example": (message.replace("testserver wants", "evil.example wants"),
                                       wallet_signature(park.wallet, message.replace("testserver wants",
                                                                                     "evil.example wants"))),
        "not a Sign-In with Ethereum message": ("hello", wallet_signature(park.wallet, "hello")),
    }
    for reason, (text, signature) in cases.items():
        reply = send_siwe(client, text, signature)
        assert reply.status_code == 401 and reason in reply.text, (reason, reply.text[-1500:])
    # Each refusal left the nonce unused: the genuine message still signs in.
    assert send_siwe(client, message, wallet_signature(park.wallet, message)).status_code == 303


def test_an_expired_nonce_is_refused(park: Park):
    client = browser(park.runtime)
    message = challenge(client, park.wallet.address)
    nonce = re.search(r"Nonce: (\S+)", message)
    assert nonce is not None
    with park.runtime.sessions.begin() as session:  # five minutes later
        session.execute(update(ConsoleChallenge).where(ConsoleChallenge.nonce == nonce.group(1))
                        .values(expires_at=utc_now() - timedelta(seconds=1)))
    reply = send_siwe(client, message, wallet_signature(park.wallet, message))
    assert reply.status_code == 401 and "nonce expired" in reply.text


def test_signing_out_ends_the_session_even_for_a_copied_cookie(park: Park):
    client = browser(park.runtime)
    sign_in_with_key(client, park.keys["regulator"])
    token = client.cookies.get("cl_session")
    reply = client.post("/console/sign-out", data={"csrf": csrf_of(client)})
    assert reply.status_code == 303 and reply.headers["location"] == "/console/sign-in"
    copied = browser(park.runtime)
    copied.cookies.set("cl_session", token or "", path="/console")
    assert copied.get("/console/").status_code == 303


def test_a_revoked_api_key_ends_its_console_sessions(park: Park):
    regulator = browser(park.runtime)
    sign_in_with_key(regulator, park.keys["regulator"])
    bank_address = park.runtime.api_keys.authenticate(park.keys["bank"]).member
    issued = build_services(park.runtime).api_keys.issue(
        demo_cast.caller(park.runtime, park.runtime.bootstrap_regulator or ""), bank_address, label="to revoke")
    bank = browser(park.runtime)
    sign_in_with_key(bank, issued.token)
    assert bank.get("/console/").status_code == 200
    reply = regulator.post(f"/console/keys/{issued.key_id}/revoke", data={"csrf": csrf_of(regulator)})
    assert reply.status_code == 303
    assert bank.get("/console/").status_code == 303


def test_the_language_is_switched_and_remembered(park: Park):
    client = browser(park.runtime)
    sign_in_with_key(client, park.keys["regulator"])
    reply = client.post("/console/language", data={"language": "zh-CN", "csrf": csrf_of(client),
                                                   "next": f"/console/parks/{PARK}?year={YEAR}"})
    assert reply.status_code == 303 and reply.headers["location"] == f"/console/parks/{PARK}?year={YEAR}"
    page = client.get(f"/console/parks/{PARK}?year={YEAR}")
    assert '<html lang="zh-CN">' in page.text and "履约义务" in page.text and "tCO2e" in page.text
    assert "2025年1月" in page.text  # months the Chinese way
    # An address outside the console is never a destination.
    reply = client.post("/console/language", data={"language": "en", "csrf": csrf_of(client),
                                                   "next": "//evil.example/"})
    assert reply.headers["location"] == "/console/"


def test_console_pages_set_their_own_content_policy_and_the_api_keeps_its_own(park: Park):
    client = browser(park.runtime)
    page = client.get("/console/sign-in")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "form-action 'self'" in page.headers["content-security-policy"]
    api = client.get("/api/v1/organisations/10", headers={"Authorization": f"Bearer {park.keys['regulator']}"})
    assert api.status_code == 200
    assert api.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


def _addresses(park: Park, actor: str) -> list[str]:
    """The address an actor's API key belongs to."""
    key_id = park.keys[actor].split("_")[1]
    info = park.runtime.api_keys.get(key_id)
    assert info is not None
    return [info.member]


def test_a_retirement_certificate_opens_for_its_holders_organisation_and_regulators_only(park: Park):
    services = build_services(park.runtime)
    regulator_caller = demo_cast.caller(park.runtime, park.runtime.bootstrap_regulator or "")
    forestry = services.organisations.members(demo_cast.FORESTRY, 0, 10).items[0].address
    (retired,) = services.credits.retirements(regulator_caller, [forestry])  # the demo's one retirement
    regulator = browser(park.runtime)
    sign_in_with_key(regulator, park.keys["regulator"])
    certificate = regulator.get(f"/console/retirements/{retired.retirement_id}/certificate")
    assert certificate.status_code == 200 and "Harbour Logistics Ltd" in certificate.text
    enterprise = browser(park.runtime)
    sign_in_with_key(enterprise, park.keys[f"enterprise-{FIRST}"])
    refused = enterprise.get(f"/console/retirements/{retired.retirement_id}/certificate")
    assert refused.status_code == 403 and "NotYourData" in refused.text
    assert services.credits.retirements(regulator_caller, [enterprise_member(park, FIRST)]) == []


def test_an_enterprise_cannot_read_another_enterprises_meters(park: Park):
    regulator = browser(park.runtime)
    sign_in_with_key(regulator, park.keys["regulator"])
    page = regulator.get(f"/console/enterprises/{SECOND}?year={YEAR}")
    device = re.search(r'href="(/console/devices/[^"]+/readings)"', page.text)
    reading = re.search(r'href="(/console/readings/\d+)"', regulator.get(device.group(1)).text) if device else None
    assert device is not None and reading is not None
    enterprise = browser(park.runtime)
    sign_in_with_key(enterprise, park.keys[f"enterprise-{FIRST}"])
    for path in (device.group(1), reading.group(1)):
        refused = enterprise.get(path)
        assert refused.status_code == 403 and "NotYourData" in refused.text, path


def enterprise_member(park: Park, org_id: int) -> str:
    return build_services(park.runtime).organisations.members(org_id, 0, 1).items[0].address


def test_the_demo_prints_a_sign_in_key_for_each_role_of_its_story(park: Park):
    roles = set()
    for key in park.keys.values():
        info = park.runtime.api_keys.authenticate(key)
        roles |= park.runtime.directory.member(info.member).roles
        client = browser(park.runtime)
        sign_in_with_key(client, key)
        assert client.get("/console/").status_code == 200
    assert roles == {"REGULATOR", "ENTERPRISE", "VERIFIER", "TRADER", "SETTLEMENT_BANK", "ORACLE"}


def test_the_regulator_issues_a_key_shown_once_that_signs_in(park: Park):
    client = browser(park.runtime)
    sign_in_with_key(client, park.keys["regulator"])
    oracle = park.runtime.api_keys.authenticate(park.keys["oracle"]).member
    reply = client.post("/console/keys", data={"member": oracle, "label": "plant DCS", "csrf": csrf_of(client)})
    assert reply.status_code == 200, reply.text
    token = re.search(r'id="token" readonly size="70" value="(clk_[^"]+)"', reply.text)
    assert token is not None
    assert park.runtime.api_keys.authenticate(token.group(1)).member == oracle
    assert token.group(1) not in client.get("/console/members").text  # listed by id, never by secret
    refused = client.post("/console/keys", data={"member": "nobody", "csrf": csrf_of(client)})
    assert refused.status_code == 422


def test_signing_in_again_replaces_the_browsers_session(park: Park):
    client = browser(park.runtime)
    sign_in_with_key(client, park.keys["regulator"])
    first = client.cookies.get("cl_session")
    sign_in_with_key(client, park.keys["regulator"])
    assert client.cookies.get("cl_session") != first
    copied = browser(park.runtime)
    copied.cookies.set("cl_session", first or "", path="/console")
    assert copied.get("/console/").status_code == 303


def test_a_session_draws_on_its_api_keys_rate_limit_shared_with_the_api(park: Park):
    client = browser(park.runtime)
    sign_in_with_key(client, park.keys["regulator"])
    buckets = client.app.state.rate_limits.per_key  # type: ignore[attr-defined]
    buckets.rate, buckets.burst = 0.01, 3  # three requests, then one every 100 s
    with_key = {"X-API-Key": park.keys["regulator"]}
    settings = park.runtime.settings
    try:
        assert client.get(f"/api/v1/organisations/{PARK}", headers=with_key).status_code == 200
        assert client.get("/console/").status_code == 200
        assert client.get(f"/console/parks/{PARK}?year={YEAR}").status_code == 200
        throttled = client.get("/console/")
        assert throttled.status_code == 429
        assert throttled.headers["retry-after"] == "100"
        assert "TooManyRequests" in throttled.text
        refused_form = client.post("/console/language", data={"language": "en", "csrf": csrf_of(client)})
        assert refused_form.status_code == 429
        api = client.get(f"/api/v1/organisations/{PARK}", headers=with_key)
        assert api.status_code == 429  # the same bucket: the console's requests counted against the key
    finally:
        buckets.rate, buckets.burst = settings.rate_limit_per_second, settings.rate_limit_burst
