"""After the story: the HTTP API served on the same runtime until Ctrl-C."""

from __future__ import annotations

import errno
import logging
import socket

from ledger_service.demo.cast import Cast, caller
from ledger_service.demo.printing import chapter, say
from ledger_service.runtime import Runtime, freeze_heap
from ledger_service.services.wiring import build_services


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def sign_in_keys(runtime: Runtime, people: Cast, regulator_key: str) -> dict[str, str]:
    """An API key for the first actor of each role of the story (the regulator's is the bootstrap key), issued
    by the regulator through the same use case as `POST /api/v1/api-keys`, to sign in to the web console."""
    services = build_services(runtime)
    regulator = caller(runtime, people["regulator"])
    keys = {"regulator": regulator_key}
    roles = {"REGULATOR"}
    for actor, role in people.roles.items():
        if role not in roles:
            roles.add(role)
            keys[actor] = services.api_keys.issue(regulator, people[actor], label="web console (demo)").token
    return keys


def serve(runtime: Runtime, host: str, port: int, api_key: str, rerun: str,
          sign_in: dict[str, str] | None = None) -> bool:
    """Serve the API over the demo's runtime (blocks until Ctrl-C); False, with what to do instead, if the
    port is taken."""
    import uvicorn

    from ledger_service.api.app import create_app

    chapter("The HTTP API over the same ledger")
    if not port_free(host, port):
        say(f"port {port} on {host} is in use, so the API is not served. Run the demo again with another port "
            f"({rerun} --port {port + 1}), or serve a fresh ledger with `python -m ledger_service serve --port "
            f"{port + 1}`.")
        return False
    say(f"OpenAPI docs: http://{host}:{port}/docs")
    say(f"web console: http://{host}:{port}/console/ (sign in with one of these API keys)")
    for actor, key in (sign_in or {"regulator": api_key}).items():
        say(f"  {actor}: {key}")
    say(f"regulator API key: {api_key}")
    say(f"try: curl -H 'Authorization: Bearer {api_key}' http://{host}:{port}/api/v1/audit/reconcile")
    say("serving until Ctrl-C (the embedded chain lives as long as this process)")
    runtime.pump.start()
    runtime.indexing.start()
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    app = create_app(runtime)
    freeze_heap()
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return True
