"""The web console: server-rendered pages under /console, served by the service's own application.

It is a sub-application mounted after every API route (`mount`), so no API request is matched against it or
passes through anything of its own. Each page builds the caller the API would build, applies the same standing
check, and calls the same use case (`ledger_service.console.views`); a refusal is shown as a page with its
status (401 sends the browser to sign-in). Every POST carries the CSRF token (`ledger_service.console.auth`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from eth_utils import is_address, to_checksum_address
from fastapi import FastAPI, Form, Query, Request
from fastapi import Path as PathPart
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ledger_service.api.limits import RateLimits, retry_after
from ledger_service.api.types import INT64_MAX
from ledger_service.console import traces, trading, views, warning
from ledger_service.console.auth import (
    CSRF_FIELD,
    LANGUAGE_COOKIE,
    LANGUAGE_MAX_AGE,
    SESSION_COOKIE,
    CsrfRefused,
    SignedIn,
    check_csrf,
    csrf_token,
    end_session,
    keep_csrf,
    set_cookie,
    signed_in,
    start_session,
)
from ledger_service.console.i18n import LANGUAGES, Locale, choose
from ledger_service.identity.api_keys import ApiKeyInvalid
from ledger_service.identity.console_sessions import ChallengeRefused, ConsoleSessions
from ledger_service.identity.siwe import SiweInvalid, SiweMessage, check, parse, recover
from ledger_service.runtime import Runtime
from ledger_service.services.caller import Caller, require_member
from ledger_service.services.errors import Refusal
from ledger_service.services.members import SANCTIONS, SANCTIONS_WITH_REASON
from ledger_service.services.wiring import Services, build_services

HERE = Path(__file__).parent
PREFIX = "/console"
# Scripts and styles from the console's own static files only; forms post back to the console.
CONTENT_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                  "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# The pages that check a proof in the browser (a reading, a report's trace) ask a JSON-RPC node the user chooses
# after the policy was sent, so their connect-src admits any http(s) origin; allowing only this service and its
# configured node would leave the user no choice, which is the point of the check (not trusting the service).
# Scripts still come from /console/static only, so no script the page did not ship can use the wider connect-src;
# the node must answer the page's origin (CORS), as anvil and the embedded chain's /rpc do.
CHECK_POLICY = CONTENT_POLICY.replace("connect-src 'self';", "connect-src 'self' http: https:;")

Page = tuple[str, dict[str, Any]]
Year = Annotated[int | None, Query(ge=1, le=65535)]
ChainId = Annotated[int, PathPart(ge=0, le=INT64_MAX)]  # a report, token or EPD id as the chain numbers it
TokenId = Annotated[int, PathPart(ge=1, le=INT64_MAX)]  # a market's vintage or batch, an order


class Console:
    """The console's state: the runtime's use cases (built once, shared with the API), sessions and templates."""

    def __init__(self, runtime: Runtime, services: Callable[[], Services], limits: RateLimits | None = None) -> None:
        self.runtime = runtime
        self._services = services
        self.sessions = ConsoleSessions(runtime.sessions)
        self.limits = limits or RateLimits.of(runtime.settings)
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                                     autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)

    @property
    def services(self) -> Services:
        return self._services()

    # ------------------------------------------------------------------ rendering

    def locale(self, request: Request, signed: SignedIn | None) -> Locale:
        return Locale(choose(request.cookies.get(LANGUAGE_COOKIE), signed.session.language if signed else None,
                             accept=request.headers.get("accept-language", "")))

    def render(self, request: Request, template: str, signed: SignedIn | None, status: int = 200,
               policy: str = CONTENT_POLICY, **values: Any) -> HTMLResponse:
        locale = self.locale(request, signed)
        html = self.templates.get_template(template).render(
            t=locale.t, loc=locale, csrf=csrf_token(request), csrf_field=CSRF_FIELD, signed=signed,
            languages=LANGUAGES, here=_here(request), **values)
        response = HTMLResponse(html, status_code=status, headers={
            "Content-Security-Policy": policy, "Cache-Control": "no-store"})
        keep_csrf(request, response)
        return response

    def refused(self, request: Request, signed: SignedIn | None, exc: Refusal) -> Response:
        if exc.status == 401:
            return to_sign_in(request)
        response = self.render(request, "error.html", signed, status=exc.status, error=exc)
        response.headers.update(exc.headers or {})  # Retry-After of a 429
        return response

    def take_request(self, signed: SignedIn) -> None:
        """A session's request draws on the API's bucket of its API key (or, signed in with a wallet, its
        address): the console is not a way around the API's rate limit."""
        key_id = signed.session.key_id
        wait = self.limits.per_key.take(f"key:{key_id}" if key_id is not None else f"address:{signed.caller.address}")
        if wait:
            raise Refusal(429, "TooManyRequests", f"too many requests in this session; retry in {retry_after(wait)} s",
                          headers={"Retry-After": retry_after(wait)})

    def page(self, request: Request, build: Callable[[Caller, Locale], Page],
             policy: str = CONTENT_POLICY) -> Response:
        """A signed-in page: the member's standing checked as the API checks it, then the page's use cases."""
        signed = signed_in(request, self.runtime, self.sessions)
        if signed is None:
            return to_sign_in(request)
        try:
            self.take_request(signed)
            caller = require_member(signed.caller)
            template, values = build(caller, self.locale(request, signed))
        except Refusal as exc:
            return self.refused(request, signed, exc)
        return self.render(request, template, signed, policy=policy, **values)

    def data(self, request: Request, build: Callable[[Caller], Any]) -> Response:
        """A signed-in page's JSON (read by its scripts): the same standing check and use case as a page; a refusal
        is the API's error answer with its status (401 signed out, never a redirect a script would follow)."""
        signed = signed_in(request, self.runtime, self.sessions)
        try:
            if signed is None:
                raise Refusal(401, "SignedOut", "sign in to the console first")
            self.take_request(signed)
            return JSONResponse(build(require_member(signed.caller)), headers={"Cache-Control": "no-store"})
        except Refusal as exc:
            return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status_code=exc.status,
                                headers={"Cache-Control": "no-store", **(exc.headers or {})})

    def posted(self, request: Request, csrf: str | None, act: Callable[[SignedIn | None], Response]) -> Response:
        """A form's POST: refused (403) unless it carries this browser's (and session's) CSRF token."""
        signed = signed_in(request, self.runtime, self.sessions)
        try:
            check_csrf(request, csrf, signed)
        except CsrfRefused as exc:
            return self.render(request, "error.html", signed, status=403,
                               error=Refusal(403, "CsrfRefused", str(exc)))
        try:
            if signed is not None:
                self.take_request(signed)
            return act(signed)
        except Refusal as exc:
            return self.refused(request, signed, exc)

    # ------------------------------------------------------------------ signing in

    def throttled(self, request: Request) -> Refusal | None:
        wait = self.limits.auth_failures.wait(_client(request))
        if wait:
            return Refusal(429, "TooManyRequests", f"too many failed sign-ins; retry in {retry_after(wait)} s")
        return None

    def failed(self, request: Request, reason: str, **values: Any) -> HTMLResponse:
        self.limits.auth_failures.take(_client(request))
        return self.render(request, "sign_in.html", None, status=401, failure=reason, **values)

    def open_session(self, request: Request, caller: Caller, via: str, key_id: str | None,
                     next_page: str | None) -> Response:
        require_member(caller)  # a suspended or revoked member does not get a session
        language = choose(request.cookies.get(LANGUAGE_COOKIE), accept=request.headers.get("accept-language", ""))
        previous = request.cookies.get(SESSION_COOKIE)
        if previous:  # signing in again replaces the browser's session rather than leaving it open
            self.sessions.close(previous)
        opened = self.sessions.open(caller.address, via, key_id, language)
        response = RedirectResponse(_safe_next(next_page), status_code=303)
        start_session(request, response, opened)
        return response

    def challenge_message(self, request: Request, address: str) -> SiweMessage:
        issued = self.sessions.challenge(address)
        return SiweMessage(_domain(request), address, _uri(request), self.runtime.deployment.chain_id,
                           issued.nonce, issued.issued_at, issued.expires_at)


def default_year() -> int:
    """The compliance year a page opens on: last calendar year (UTC), the one being reported and surrendered."""
    return datetime.now(UTC).year - 1


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _domain(request: Request) -> str:
    return request.url.netloc


def _uri(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}{PREFIX}/"


def _safe_next(next_page: str | None) -> str:
    """Only a console path (never another site: `//host` or a scheme)."""
    if next_page and next_page.startswith(PREFIX + "/") and "//" not in next_page and "\\" not in next_page:
        return next_page
    return PREFIX + "/"


def to_sign_in(request: Request) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/sign-in?next={quote(_here(request), safe='/')}" if request.method == "GET"
                            else f"{PREFIX}/sign-in", status_code=303)


def create_console(runtime: Runtime, services: Callable[[], Services] | None = None,
                   limits: RateLimits | None = None) -> FastAPI:
    """The console application (mount it at /console). `services` gives the API's use cases and `limits` its rate
    buckets, so both edges share one set; by default the console builds its own."""
    built: list[Services] = []

    def own() -> Services:
        if not built:
            built.append(build_services(runtime))
        return built[0]

    console = Console(runtime, services or own, limits)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = console
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        year = default_year()
        return console.page(request, lambda caller, loc: (
            "home.html", {"home": views.home(console.services, caller, year)}))

    @app.get("/sign-in", response_class=HTMLResponse)
    def sign_in(request: Request, next: str | None = None) -> Response:
        return console.render(request, "sign_in.html", None, next_page=_safe_next(next))

    @app.post("/sign-in/key", response_class=HTMLResponse)
    def sign_in_key(request: Request, api_key: Annotated[str, Form(max_length=256)],
                    csrf: Annotated[str | None, Form()] = None, next: Annotated[str | None, Form()] = None) -> Response:
        def act(_: SignedIn | None) -> Response:
            throttled = console.throttled(request)
            if throttled is not None:
                raise throttled
            try:
                key = runtime.api_keys.authenticate(api_key.strip())
            except ApiKeyInvalid as exc:
                return console.failed(request, exc.reason, next_page=_safe_next(next))
            member = runtime.directory.member(key.member)
            return console.open_session(request, Caller(member.address, "console", key.key_id, member), "api_key",
                                        key.key_id, next)
        return console.posted(request, csrf, act)

    @app.post("/sign-in/challenge", response_class=HTMLResponse)
    def challenge(request: Request, address: Annotated[str, Form(max_length=42)],
                  csrf: Annotated[str | None, Form()] = None, next: Annotated[str | None, Form()] = None) -> Response:
        def act(signed: SignedIn | None) -> Response:
            try:
                checked = to_checksum_address(address.strip())
            except ValueError:
                return console.failed(request, "not an address", next_page=_safe_next(next))
            message = console.challenge_message(request, checked)
            return console.render(request, "sign_in.html", None, message=message.text(), address=checked,
                                  next_page=_safe_next(next))
        return console.posted(request, csrf, act)

    @app.post("/sign-in/siwe", response_class=HTMLResponse)
    def sign_in_siwe(request: Request, message: Annotated[str, Form(max_length=2000)],
                     signature: Annotated[str, Form(max_length=200)], csrf: Annotated[str | None, Form()] = None,
                     next: Annotated[str | None, Form()] = None) -> Response:
        def act(_: SignedIn | None) -> Response:
            throttled = console.throttled(request)
            if throttled is not None:
                raise throttled
            try:
                parsed = parse(message)
                issued = console.sessions.find_challenge(parsed.nonce)
                if issued.address != parsed.address:
                    raise SiweInvalid("the nonce was issued for another address")
                check(parsed, domain=_domain(request), uri=_uri(request), chain_id=runtime.deployment.chain_id,
                      issued_at=issued.issued_at, now=datetime.now(UTC))
                if recover(message.replace("\r\n", "\n").strip(), signature.strip()) != parsed.address:
                    raise SiweInvalid("the signature is not the address's")
                console.sessions.consume(parsed.nonce)  # once: a replay of this message is refused from now on
            except (SiweInvalid, ChallengeRefused) as exc:
                return console.failed(request, exc.reason, next_page=_safe_next(next))
            member = runtime.directory.member(parsed.address)  # the member registered at the signing address
            return console.open_session(request, Caller(member.address, "console", None, member), "siwe", None,
                                        next)
        return console.posted(request, csrf, act)

    @app.post("/sign-out")
    def sign_out(request: Request, csrf: Annotated[str | None, Form()] = None) -> Response:
        def act(signed: SignedIn | None) -> Response:
            if signed is not None:
                console.sessions.close(signed.token)
            response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
            end_session(request, response)
            return response
        return console.posted(request, csrf, act)

    @app.post("/language")
    def language(request: Request, language: Annotated[str, Form(max_length=8)],
                 csrf: Annotated[str | None, Form()] = None, next: Annotated[str | None, Form()] = None) -> Response:
        def act(signed: SignedIn | None) -> Response:
            chosen = choose(language)
            if signed is not None:
                console.sessions.set_language(signed.token, chosen)
            response = RedirectResponse(_safe_next(next), status_code=303)
            set_cookie(request, response, LANGUAGE_COOKIE, chosen, max_age=LANGUAGE_MAX_AGE)
            return response
        return console.posted(request, csrf, act)

    # ------------------------------------------------------------------ pages

    @app.get("/parks/{park_id}", response_class=HTMLResponse)
    def dashboard(request: Request, park_id: int, year: Year = None) -> Response:
        return console.page(request, lambda caller, loc: ("dashboard.html", {"d": views.dashboard(
            console.services, runtime.health.readiness(), caller, loc, park_id, year or default_year())}))

    @app.get("/parks/{park_id}/drilldown", response_class=HTMLResponse)
    def drilldown(request: Request, park_id: int, year: Year = None, verify: bool = False) -> Response:
        return console.page(request, lambda caller, loc: ("drilldown.html", {"tree": views.drilldown(
            console.services, caller, park_id, year or default_year(), verify)}))

    @app.get("/devices/{device_id}/readings", response_class=HTMLResponse)
    def device_readings(request: Request, device_id: str, offset: Annotated[int, Query(ge=0)] = 0) -> Response:
        return console.page(request, lambda caller, loc: ("readings.html", {"r": views.readings(
            console.services, caller, device_id, offset, 50)}))

    @app.get("/readings/{reading_id}", response_class=HTMLResponse)
    def reading(request: Request, reading_id: int) -> Response:
        return console.page(request, lambda caller, loc: ("reading.html", {
            "proven": console.services.meters.prove(caller, reading_id), "reading_id": reading_id,
            "node": node_choice(request)}), CHECK_POLICY)

    # ------------------------------------------------------------------ traces and lineage

    def node_choice(request: Request) -> traces.NodeChoice:
        return traces.node_choice(runtime.settings.chain, f"{request.url.scheme}://{request.url.netloc}",
                                  runtime.deployment.addresses["MeterAnchor"], runtime.settings.public_node_url)

    @app.get("/readings/{reading_id}/proof.json")
    def reading_proof(request: Request, reading_id: int) -> Response:
        return console.data(request, lambda caller: traces.proof_json(console.services, caller, reading_id))

    @app.get("/reports/{report_id}", response_class=HTMLResponse)
    def report(request: Request, report_id: ChainId,
               readings: Annotated[int, Query(ge=0, le=traces.MAX_TRACE_READINGS)] = traces.TRACE_READINGS
               ) -> Response:
        return console.page(request, lambda caller, loc: ("report.html", {
            "rp": traces.report(console.services, caller, report_id, readings), "node": node_choice(request)}),
            CHECK_POLICY)

    @app.get("/assets", response_class=HTMLResponse)
    def assets(request: Request, year: Year = None) -> Response:
        return console.page(request, lambda caller, loc: ("assets.html", {
            "a": traces.assets(console.services, caller, year or default_year()), "name": partial(traces.named, loc)}))

    @app.get("/assets/{asset}/{token_id}", response_class=HTMLResponse)
    def asset_lineage(request: Request, asset: str, token_id: ChainId) -> Response:
        return console.page(request, lambda caller, loc: ("lineage.html", {
            "g": traces.asset_lineage(console.services, caller, asset, token_id), "name": partial(traces.named, loc)}))

    @app.get("/assets/{asset}/{token_id}/lineage.json")
    def asset_lineage_json(request: Request, asset: str, token_id: ChainId) -> Response:
        return console.data(request, lambda caller: traces.asset_lineage(console.services, caller, asset,
                                                                         token_id).data)

    @app.get("/epds/{epd_id}/lineage", response_class=HTMLResponse)
    def epd_lineage(request: Request, epd_id: ChainId) -> Response:
        return console.page(request, lambda caller, loc: ("lineage.html", {
            "g": traces.epd_lineage(console.services, caller, epd_id), "name": partial(traces.named, loc)}))

    @app.get("/epds/{epd_id}/lineage.json")
    def epd_lineage_json(request: Request, epd_id: ChainId) -> Response:
        return console.data(request, lambda caller: traces.epd_lineage(console.services, caller, epd_id).data)

    @app.get("/enterprises/{org_id}", response_class=HTMLResponse)
    def enterprise(request: Request, org_id: int, year: Year = None) -> Response:
        return console.page(request, lambda caller, loc: ("enterprise.html", {"e": views.enterprise(
            console.services, caller, org_id, year or default_year())}))

    @app.get("/retirements/{retirement_id}/certificate", response_class=HTMLResponse)
    def certificate(request: Request, retirement_id: int) -> Response:
        signed = signed_in(request, runtime, console.sessions)
        if signed is None:
            return to_sign_in(request)
        try:
            page = console.services.credits.certificate_page(require_member(signed.caller), retirement_id)
        except Refusal as exc:
            return console.refused(request, signed, exc)
        return HTMLResponse(page.html)  # the API's own certificate page, with its own policy headers

    @app.get("/members", response_class=HTMLResponse)
    def members(request: Request) -> Response:
        return console.page(request, lambda caller, loc: ("members.html", {
            "reg": views.registry(console.services, caller), "sanctions": SANCTIONS,
            "with_reason": SANCTIONS_WITH_REASON}))

    @app.post("/members/{address}/{sanction}")
    def sanction(request: Request, address: str, sanction: str, csrf: Annotated[str | None, Form()] = None,
                 reason: Annotated[str | None, Form(max_length=500)] = None) -> Response:
        def act(signed: SignedIn | None) -> Response:
            if signed is None:
                return to_sign_in(request)
            if sanction not in SANCTIONS:
                raise Refusal(404, "NotFound", f"no action {sanction}")
            caller = require_member(signed.caller, "REGULATOR")
            given = (reason or "").strip() or None
            console.services.members.sanction(caller, address, sanction,
                                              given if sanction in SANCTIONS_WITH_REASON else None)
            return RedirectResponse(f"{PREFIX}/members", status_code=303)
        return console.posted(request, csrf, act)

    @app.post("/keys")
    def issue_key(request: Request, member: Annotated[str, Form(max_length=42)],
                  label: Annotated[str, Form(max_length=128)] = "",
                  csrf: Annotated[str | None, Form()] = None) -> Response:
        def act(signed: SignedIn | None) -> Response:
            if signed is None:
                return to_sign_in(request)
            caller = require_member(signed.caller, "REGULATOR")
            if not is_address(member.strip()):
                raise Refusal(422, "ValidationError", "not an address", {"member": member})
            issued = console.services.api_keys.issue(caller, member.strip(), label.strip())
            return console.render(request, "key_issued.html", signed, issued=issued)  # the secret, shown once
        return console.posted(request, csrf, act)

    @app.post("/keys/{key_id}/revoke")
    def revoke_key(request: Request, key_id: str, csrf: Annotated[str | None, Form()] = None) -> Response:
        def act(signed: SignedIn | None) -> Response:
            if signed is None:
                return to_sign_in(request)
            console.services.api_keys.revoke(require_member(signed.caller, "REGULATOR"), key_id)
            return RedirectResponse(f"{PREFIX}/members", status_code=303)
        return console.posted(request, csrf, act)

    # ------------------------------------------------------------------ the market and the early warning

    @app.get("/market", response_class=HTMLResponse)
    def market_index(request: Request, asset: str | None = None,
                     token_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None) -> Response:
        if asset in trading.tradeable_names() and token_id is not None:  # the "open a market" form
            return RedirectResponse(f"{PREFIX}/market/{asset}/{token_id}", status_code=303)
        return console.page(request, lambda caller, loc: ("market_index.html", {"mi": trading.market_index(
            console.services, caller, default_year()), "cny": trading.cny}))

    @app.get("/market/{asset}/{token_id}", response_class=HTMLResponse)
    def market_page(request: Request, asset: str, token_id: TokenId, done: str | None = None,
                    order: str | None = None, tx: str | None = None) -> Response:
        return console.page(request, lambda caller, loc: ("market.html", {"m": trading.market_page(
            console.services, caller, loc, asset, token_id, trading.banner(done, order, tx)),
            "form": trading.OrderForm(), "cny": trading.cny}))

    def trade(request: Request, asset: str, token_id: int, csrf: str | None,
              act: Callable[[Caller], trading.Outcome], form: trading.OrderForm | None = None) -> Response:
        """A market form's POST: done -> back to the market page (303) with its banner; to be signed by the
        member's own key -> the signing page; refused -> the market page with the refusal and the form as typed."""
        def posted(signed: SignedIn | None) -> Response:
            if signed is None:
                return to_sign_in(request)
            caller = require_member(signed.caller)
            name = trading.asset_of(asset)
            loc = console.locale(request, signed)
            try:
                outcome = trading.refusing(caller, lambda: act(caller))
            except Refusal as exc:
                if exc.status == 401:
                    raise
                return console.render(request, "market.html", signed, status=exc.status, refusal=exc,
                                      form=form or trading.OrderForm(), cny=trading.cny, m=trading.market_page(
                                          console.services, caller, loc, name, token_id))
            if isinstance(outcome, trading.ToSign):
                return console.render(request, "market_sign.html", signed, sign=outcome, asset=name,
                                      token_id=token_id)
            return RedirectResponse(f"{PREFIX}/market/{name}/{token_id}?{outcome.query}", status_code=303)
        return console.posted(request, csrf, posted)

    @app.post("/market/{asset}/{token_id}/orders")
    def place_order(request: Request, asset: str, token_id: TokenId,
                    amount: Annotated[str, Form(max_length=40)] = "", price: Annotated[str, Form(max_length=40)] = "",
                    expiry: Annotated[str, Form(max_length=40)] = "",
                    csrf: Annotated[str | None, Form()] = None) -> Response:
        form = trading.OrderForm(amount, price, expiry)
        return trade(request, asset, token_id, csrf, lambda caller: trading.place(
            console.services, caller, trading.asset_of(asset), token_id, form), form)

    @app.post("/market/{asset}/{token_id}/orders/{order_id}/fill")
    def fill_order(request: Request, asset: str, token_id: TokenId, order_id: TokenId,
                   amount: Annotated[str, Form(max_length=40)] = "",
                   csrf: Annotated[str | None, Form()] = None) -> Response:
        return trade(request, asset, token_id, csrf, lambda caller: trading.fill(
            console.services, caller, order_id, amount))

    @app.post("/market/{asset}/{token_id}/orders/{order_id}/cancel")
    def cancel_order(request: Request, asset: str, token_id: TokenId, order_id: TokenId,
                     csrf: Annotated[str | None, Form()] = None) -> Response:
        return trade(request, asset, token_id, csrf, lambda caller: trading.cancel(console.services, caller,
                                                                                   order_id))

    @app.post("/market/{asset}/{token_id}/relay")
    def relay(request: Request, asset: str, token_id: TokenId,
              raw_tx: Annotated[list[str], Form()], action: Annotated[str, Form(max_length=16)] = "",
              order: Annotated[str, Form(max_length=20)] = "", csrf: Annotated[str | None, Form()] = None) -> Response:
        return trade(request, asset, token_id, csrf, lambda caller: trading.relay(
            console.services, caller, action, order, raw_tx))

    @app.get("/parks/{park_id}/warning", response_class=HTMLResponse)
    def park_warning(request: Request, park_id: int, year: Year = None) -> Response:
        return console.page(request, lambda caller, loc: ("warning.html", {"w": warning.park_warning(
            console.services, caller, loc, park_id, year or default_year())}))

    @app.get("/enterprises/{org_id}/warning", response_class=HTMLResponse)
    def enterprise_warning(request: Request, org_id: int, year: Year = None) -> Response:
        return console.page(request, lambda caller, loc: ("warning.html", {"w": warning.enterprise_warning(
            console.services, caller, loc, org_id, year or default_year())}))

    return app


def mount(app: FastAPI, runtime: Runtime, services: Callable[[], Services], limits: RateLimits) -> None:
    """Serve the console at /console, after every API route."""
    app.mount(PREFIX, create_console(runtime, services, limits))
