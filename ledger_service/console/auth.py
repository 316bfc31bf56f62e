"""Who is signed in to the console, and the CSRF token of its forms.

The browser holds three cookies, all HttpOnly, SameSite=Strict, and Secure when the page came over https:
`cl_session` (the session's random token; the server keeps its SHA-256), `cl_csrf` (the token every form
carries: double-submitted, and for a signed-in browser also bound to the session, whose row keeps its SHA-256)
and `cl_lang`. A page's caller is built exactly as the API builds one (`Caller` over the chain's view of the
member) and passes the same standing check (`services.caller.require_member`, applied by the pages); the use
case the page calls does the rest. Neither token is ever logged."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response

from ledger_core.db.models.types import utc_aware, utc_now
from ledger_service.identity.console_sessions import ConsoleSessions, OpenedSession, SessionInfo
from ledger_service.runtime import Runtime
from ledger_service.services.caller import Caller

SESSION_COOKIE = "cl_session"
CSRF_COOKIE = "cl_csrf"
LANGUAGE_COOKIE = "cl_lang"
CSRF_FIELD = "csrf"
LANGUAGE_MAX_AGE = 365 * 24 * 3600


class CsrfRefused(PermissionError):
    pass


@dataclass(frozen=True)
class SignedIn:
    token: str
    session: SessionInfo
    caller: Caller


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/console", httponly=True, samesite="strict",
                        secure=_secure(request))


def csrf_token(request: Request) -> str:
    """This browser's CSRF token: the cookie's, or a new one (stored on the response by `keep_csrf`)."""
    known = getattr(request.state, "csrf", None)
    if isinstance(known, str):
        return known
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    request.state.csrf = token
    return token


def keep_csrf(request: Request, response: Response) -> None:
    token = csrf_token(request)
    if request.cookies.get(CSRF_COOKIE) != token:
        set_cookie(request, response, CSRF_COOKIE, token)


def check_csrf(request: Request, presented: str | None, signed: SignedIn | None) -> None:
    """A POST carries the cookie's token in its form, and a signed-in browser's token is its session's."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if not presented or not cookie or not hmac.compare_digest(presented.encode(), cookie.encode()):
        raise CsrfRefused("the form's CSRF token is not this browser's")
    if signed is not None and not signed.session.csrf_ok(presented):
        raise CsrfRefused("the form's CSRF token is not this session's")


def start_session(request: Request, response: Response, opened: OpenedSession) -> None:
    """A fresh session token and CSRF token (a token chosen before sign-in is never carried over)."""
    set_cookie(request, response, SESSION_COOKIE, opened.token)
    set_cookie(request, response, CSRF_COOKIE, opened.csrf)


def end_session(request: Request, response: Response) -> None:
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/console", httponly=True, samesite="strict", secure=_secure(request))


def signed_in(request: Request, runtime: Runtime, sessions: ConsoleSessions) -> SignedIn | None:
    """The signed-in member, as the chain records it now; None without a live session. A session opened with
    an API key ends when that key is revoked or expires."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    info = sessions.find(token)
    if info is None:
        return None
    if info.key_id is not None:
        key = runtime.api_keys.get(info.key_id)
        if key is None or key.revoked_at is not None or utc_aware(key.expires_at) <= utc_now():
            sessions.close(token)
            return None
    member = runtime.directory.member(info.member)
    return SignedIn(token, info, Caller(member.address, "console", info.key_id, member))

