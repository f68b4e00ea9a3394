"""A FastAPI dependency that verifies each request's token through tessera: a route
needs scopes and, with a template (``repo:{repo_id}``), the resource built from its path
parameters. Refusals are tessera's own RFC 9457 problems (401, 403, 429 with
``Retry-After``; 503 when tessera does not answer: fail closed), written by the handler
``install`` adds::

    from fastapi import Depends, FastAPI
    from tessera_client import AsyncTessera
    from tessera_client.fastapi import install, require_token

    app = FastAPI()
    install(app)
    verifier = AsyncTessera("http://127.0.0.1:7900", "<a token with tokens:verify>")

    @app.get("/repos/{repo_id}/files")
    async def files(repo_id: str, token=Depends(require_token(verifier, ["repo:read"], "repo:{repo_id}"))):
        return {"repo": repo_id, "by": token.token_id}
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tessera_client.client import AsyncTessera
from tessera_client.errors import TesseraError
from tessera_client_generated.models import VerifyResponse

_TITLES = {401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
_CHALLENGE = 'Bearer realm="tessera"'


class TokenRefused(Exception):
    """A request the dependency refused: ``install`` writes it as a problem."""

    def __init__(self, status: int, code: str, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.problem = {
            "type": f"/problems/{code}",
            "title": _TITLES.get(status, "Error"),
            "status": status,
            "detail": detail,
            "code": code,
        }
        self.headers = dict(headers or {})


async def _problem_response(_: Request, refused: Exception) -> JSONResponse:
    assert isinstance(refused, TokenRefused)
    return JSONResponse(
        refused.problem, status_code=refused.status, headers=refused.headers, media_type="application/problem+json"
    )


def install(app: FastAPI) -> None:
    """Writes the dependency's refusals as tessera's problems."""
    app.add_exception_handler(TokenRefused, _problem_response)


def presented_token(headers: Mapping[str, str]) -> str | None:
    """The token a request presents, read as tessera reads it: ``Authorization: Bearer``
    or ``Api-Key``, ``X-API-Key``, or HTTP Basic's password; two at once are refused."""
    found = None
    authorization = (headers.get("authorization") or "").strip()
    if authorization:
        scheme, _, rest = authorization.partition(" ")
        rest = rest.strip()
        if rest and scheme.lower() in ("bearer", "api-key"):
            found = rest
        elif rest and scheme.lower() == "basic":
            try:
                _, _, password = base64.b64decode(rest, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            found = password or None
        if found is None:
            return None
    api_key = (headers.get("x-api-key") or "").strip()
    if api_key:
        if found is not None:
            return None
        found = api_key
    return found


def fill_template(template: str, params: Mapping[str, Any]) -> str | None:
    """``repo:{repo_id}`` with ``repo_id`` from ``params``; ``None`` when one is missing."""
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        found = params.get(match.group(1))
        if found is None or str(found) == "":
            missing = True
            return ""
        return str(found)

    filled = re.sub(r"\{([^{}]+)\}", value, template)
    return None if missing else filled


def _address(host: str | None) -> str | None:
    """``host`` if it is an IP address (a test client or a Unix socket names none)."""
    try:
        return str(ipaddress.ip_address(host)) if host else None
    except ValueError:
        return None


def require_token(
    tessera: AsyncTessera, scopes: list[str], resource: str | None = None
) -> Callable[[Request], Awaitable[VerifyResponse]]:
    """A dependency for routes that need every one of ``scopes`` and, with a template, the
    resource it names; it gives the handler tessera's answer (token id, name, owner, meta)."""

    async def dependency(request: Request) -> VerifyResponse:
        token = presented_token(request.headers)
        if token is None:
            raise TokenRefused(
                401,
                "missing_credentials",
                "send a token as `Authorization: Bearer <token>`",
                {"WWW-Authenticate": _CHALLENGE},
            )
        body: dict[str, Any] = {"token": token, "scopes": scopes}
        if resource is not None:
            filled = fill_template(resource, request.path_params)
            if filled is None:
                raise TokenRefused(500, "internal", "the route lacks a parameter its resource names")
            body["resource"] = filled
        # For tokens bound to networks: the address the app's server saw (uvicorn's
        # proxy-headers setting decides whom it believes).
        client_ip = _address(request.client.host if request.client else None)
        if client_ip is not None:
            body["client_ip"] = client_ip
        try:
            answer = await tessera.verify(body)
        except TesseraError as error:
            if error.retryable:
                raise TokenRefused(
                    503, "unavailable", "the token service does not answer; retry later", {"Retry-After": "1"}
                ) from error
            raise TokenRefused(500, "internal", "the server failed on this request") from error
        if answer.valid:
            return answer
        if answer.code == "FORBIDDEN":
            missing = answer.to_dict().get("missing") or {}
            if missing.get("network"):
                raise TokenRefused(
                    403,
                    "network_not_allowed",
                    "this token may not be used from your address: it is bound to other networks",
                )
            lacks = " ".join(missing.get("scopes") or [])
            detail = f"the token may not touch {missing['resource']}" if missing.get("resource") else f"the token lacks {lacks}"
            raise TokenRefused(
                403,
                "insufficient_scope",
                detail,
                {"WWW-Authenticate": f'{_CHALLENGE}, error="insufficient_scope", scope="{lacks}"'},
            )
        if answer.code == "USAGE_EXHAUSTED":
            usage = answer.to_dict().get("usage") or {}
            headers = {"Retry-After": "60"}
            for name, key in (("X-Tessera-Uses-Remaining", "uses_remaining"),
                              ("X-Tessera-Credits-Remaining", "credits_remaining")):
                if usage.get(key) is not None:
                    headers[name] = str(usage[key])
            raise TokenRefused(
                429,
                "usage_exhausted",
                "the token's usage is exhausted: its max_uses are used, or its credits cannot pay for this request",
                headers,
            )
        if answer.code == "RATE_LIMITED":
            reset_ms = (answer.to_dict().get("rate_limit") or {}).get("reset_ms") or 1000
            raise TokenRefused(
                429,
                "rate_limited",
                "the token's rate limit is spent: wait, then send again",
                {"Retry-After": str(max(1, math.ceil(reset_ms / 1000)))},
            )
        raise TokenRefused(
            401,
            "invalid_token",
            f"the token is not valid ({answer.code})",
            {"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'},
        )

    return dependency
