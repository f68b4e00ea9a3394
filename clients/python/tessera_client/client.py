"""``Tessera`` (sync) and ``AsyncTessera``: one method per endpoint over the generated
functions (``tessera_client_generated.api``), each returning the parsed answer and
raising ``TesseraError`` on a refusal. Bodies may be the generated models or plain dicts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

import httpx

from tessera_client_generated import AuthenticatedClient, Client
from tessera_client_generated.api.audit import list_audit, verify_audit
from tessera_client_generated.api.webhooks import (
    create_webhook,
    delete_webhook,
    get_webhook,
    list_webhooks,
    update_webhook,
    webhook_deliveries,
)
from tessera_client_generated.api.compat import (
    create_repo_key,
    create_repo_token,
    delete_repo_token,
    get_repo_token,
)
from tessera_client_generated.api.leaks import report_leaks
from tessera_client_generated.api.oauth import introspect, revoke_presented
from tessera_client_generated.api.operations import healthz, readyz
from tessera_client_generated.api.tokens import (
    catalogue,
    create_token,
    get_token,
    list_tokens,
    revoke_self,
    revoke_token,
    rotate_self,
    rotate_token,
    token_usage,
    update_token,
    whoami,
)
from tessera_client_generated.api.verify import verify
from tessera_client_generated.models import (
    AuditList,
    AuditVerification,
    Catalogue,
    CreatedToken,
    CreatedWebhook,
    CreateTokenRequest,
    CreateWebhookRequest,
    DeliveryList,
    Introspection,
    LeakReport,
    LeakVerdict,
    PresentedTokenForm,
    RepoKeyCreated,
    RepoKeyRequest,
    RepoTokenCreated,
    RepoTokenInfo,
    RepoTokenRequest,
    RotateRequest,
    TokenList,
    TokenView,
    UpdateTokenRequest,
    UpdateWebhookRequest,
    UsageReport,
    VerifyRequest,
    VerifyResponse,
    WebhookList,
    WebhookView,
)
from tessera_client_generated.types import UNSET, Response

from tessera_client.errors import TesseraError, refusal

T = TypeVar("T")
Body = TypeVar("Body")


class _AsGiven:
    """A body sent as the caller wrote it. The generated models type scopes as this
    deployment's catalogue (an enum of the default one, in the committed document);
    a plain dict lets a deployment with scopes of its own send them, and the server,
    which knows its catalogue, judges them."""

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self._fields = dict(fields)

    def to_dict(self) -> dict[str, Any]:
        return self._fields


def _model(kind: type[Body], body: Body | Mapping[str, Any]) -> Body:
    """A generated model as it is; a dict as it is too (see ``_AsGiven``)."""
    del kind  # the generated function's own type, for the reader
    return _AsGiven(body) if isinstance(body, Mapping) else body  # type: ignore[return-value]


def _answer(response: Response[Any], kind: type[T]) -> T:
    if 200 <= int(response.status_code) < 300 and isinstance(response.parsed, kind):
        return response.parsed
    if 200 <= int(response.status_code) < 300:
        raise TesseraError(int(response.status_code), detail="an answer the API does not document")
    raise refusal(response)


def _list(response: Response[Any], kind: type[T]) -> list[T]:
    parsed = response.parsed
    if 200 <= int(response.status_code) < 300 and isinstance(parsed, list):
        if all(isinstance(item, kind) for item in parsed):
            return parsed
    if 200 <= int(response.status_code) < 300:
        raise TesseraError(int(response.status_code), detail="an answer the API does not document")
    raise refusal(response)


def _done(response: Response[Any]) -> None:
    if not 200 <= int(response.status_code) < 300:
        raise refusal(response)


def _rotation(grace_seconds: int | None) -> RotateRequest:
    return RotateRequest() if grace_seconds is None else RotateRequest(grace_seconds=grace_seconds)


def _query(**given: Any) -> dict[str, Any]:
    """Query parameters: the generated functions take UNSET for those not given, and
    datetimes for times (given here as datetimes or RFC 3339 text)."""
    return {key: UNSET if value is None else _moment(value) for key, value in given.items()}


def _moment(value: Any) -> Any:
    """A time given as RFC 3339 text, as the datetime the generated code formats."""
    if isinstance(value, str) and len(value) >= 20 and value[4] == "-" and value[10] == "T":
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


class _Base:
    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0, **httpx_args: Any) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._httpx_args = httpx_args
        # Without a token (RFC 7009's revocation needs none), no Authorization header.
        self.raw: AuthenticatedClient | Client = (
            AuthenticatedClient(
                base_url=self._base_url, token=token, timeout=httpx.Timeout(timeout), httpx_args=httpx_args
            )
            if token
            else Client(base_url=self._base_url, timeout=httpx.Timeout(timeout), httpx_args=httpx_args)
        )

    def __repr__(self) -> str:  # never shows the token
        return f"{type(self).__name__}({self._base_url!r})"


class Tessera(_Base):
    """One deployment, one token; blocking calls. Refusals raise ``TesseraError``."""

    def acting_as(self, token: str) -> Tessera:
        return Tessera(self._base_url, token, timeout=self._timeout, **self._httpx_args)

    def _run(self, call: Any, **kwargs: Any) -> Response[Any]:
        try:
            return call.sync_detailed(client=self.raw, **kwargs)
        except httpx.HTTPError as error:
            raise TesseraError(0, detail=f"tessera could not be reached: {error}") from error

    # Tokens.
    def create_token(self, body: CreateTokenRequest | Mapping[str, Any]) -> CreatedToken:
        """Creates a token within the caller's powers; its text (``token``) is shown this once."""
        return _answer(self._run(create_token, body=_model(CreateTokenRequest, body)), CreatedToken)

    def list_tokens(
        self,
        *,
        status: str | None = None,
        owner: str | None = None,
        resource: str | None = None,
        name: str | None = None,
        expiring_within: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> TokenList:
        """One page of the tokens the caller may see, newest first; ``expiring_within``
        (``"7d"``, ``"12h"``) keeps the live ones about to expire."""
        query = _query(
            status=status, owner=owner, resource=resource, name=name,
            expiring_within=expiring_within, limit=limit, cursor=cursor,
        )
        return _answer(self._run(list_tokens, **query), TokenList)

    def get_token(self, token_id: str) -> TokenView:
        return _answer(self._run(get_token, id=token_id), TokenView)

    def token_usage(
        self, token_id: str, *, from_: str | None = None, to: str | None = None, granularity: str | None = None
    ) -> UsageReport:
        """A token's answers by the hour (or ``granularity="day"``), every bucket of the range."""
        query = _query(from_=from_, to=to, granularity=granularity)
        return _answer(self._run(token_usage, id=token_id, **query), UsageReport)

    def list_audit(
        self,
        *,
        actor: str | None = None,
        target: str | None = None,
        action: str | None = None,
        from_: datetime | str | None = None,
        to: datetime | str | None = None,
        order: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> AuditList:
        """The audit log, newest first (``order="oldest"`` for the chain's order): all of
        it for the admin token, a manager's subtree for a manager."""
        query = _query(
            actor=actor, target=target, action=action, from_=from_, to=to, order=order, limit=limit, cursor=cursor
        )
        return _answer(self._run(list_audit, **query), AuditList)

    def verify_audit(self) -> AuditVerification:
        """Walks the audit log's hash chain (the admin token): ``intact``, or the first entry
        that was edited, deleted or moved in ``broken``."""
        return _answer(self._run(verify_audit), AuditVerification)

    def update_token(self, token_id: str, body: UpdateTokenRequest | Mapping[str, Any]) -> TokenView:
        return _answer(self._run(update_token, id=token_id, body=_model(UpdateTokenRequest, body)), TokenView)

    def revoke_token(self, token_id: str) -> TokenView:
        """Revokes a token and every token made through it; it stays readable, ``status: revoked``."""
        return _answer(self._run(revoke_token, id=token_id), TokenView)

    def rotate_token(self, token_id: str, grace_seconds: int | None = None) -> CreatedToken:
        """A new secret for the same token (``token``, shown once); the previous one works
        on for ``grace_seconds`` (0 to 7 days)."""
        body = _rotation(grace_seconds)
        return _answer(self._run(rotate_token, id=token_id, body=body), CreatedToken)

    def rotate_self(self, grace_seconds: int | None = None) -> CreatedToken:
        """The caller's own token gets a new secret: act with it from now on (``acting_as``)."""
        return _answer(self._run(rotate_self, body=_rotation(grace_seconds)), CreatedToken)

    def whoami(self) -> TokenView:
        return _answer(self._run(whoami), TokenView)

    def revoke_self(self) -> TokenView:
        """Revokes the caller's own token: a sandbox session's last call."""
        return _answer(self._run(revoke_self), TokenView)

    # Checking tokens.
    def verify(self, body: VerifyRequest | Mapping[str, Any]) -> VerifyResponse:
        """May ``body.token`` do this? Needs ``tokens:verify``; always an answer (``valid``, ``code``)."""
        return _answer(self._run(verify, body=_model(VerifyRequest, body)), VerifyResponse)

    def introspect(self, token: str, client_ip: str | None = None) -> Introspection:
        """RFC 7662; a token bound to networks is active only with a ``client_ip`` inside them."""
        form = PresentedTokenForm(token=token, client_ip=UNSET if client_ip is None else client_ip)
        return _answer(self._run(introspect, body=form), Introspection)

    def revoke_presented(self, token: str) -> None:
        """RFC 7009: whoever holds a token may revoke it; the answer is the same either way."""
        _done(self._run(revoke_presented, body=PresentedTokenForm(token=token)))

    def create_webhook(self, body: CreateWebhookRequest | Mapping[str, Any]) -> CreatedWebhook:
        """Adds an endpoint; ``secret`` (whsec_…, for a Standard Webhooks verifier) is in
        this answer only. The admin token."""
        return _answer(self._run(create_webhook, body=_model(CreateWebhookRequest, body)), CreatedWebhook)

    def list_webhooks(self) -> WebhookList:
        return _answer(self._run(list_webhooks), WebhookList)

    def get_webhook(self, webhook_id: str) -> WebhookView:
        return _answer(self._run(get_webhook, id=webhook_id), WebhookView)

    def update_webhook(self, webhook_id: str, body: UpdateWebhookRequest | Mapping[str, Any]) -> WebhookView:
        body = _model(UpdateWebhookRequest, body)
        return _answer(self._run(update_webhook, id=webhook_id, body=body), WebhookView)

    def delete_webhook(self, webhook_id: str) -> None:
        """Removes an endpoint and the deliveries it still had waiting."""
        _done(self._run(delete_webhook, id=webhook_id))

    def webhook_deliveries(
        self, webhook_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> DeliveryList:
        """An endpoint's delivery log, newest first."""
        query = _query(limit=limit, cursor=cursor)
        return _answer(self._run(webhook_deliveries, id=webhook_id, **query), DeliveryList)

    def report_leaks(self, reports: list[LeakReport] | list[Mapping[str, Any]]) -> list[LeakVerdict]:
        """Reports tokens found in public; the live ones are revoked (or flagged)."""
        body = [_model(LeakReport, report) for report in reports]
        return _list(self._run(report_leaks, body=body), LeakVerdict)

    def catalogue(self) -> Catalogue:
        return _answer(self._run(catalogue), Catalogue)

    # Relace's repo tokens and Flashback's repository keys.
    def create_repo_token(self, body: RepoTokenRequest | Mapping[str, Any]) -> RepoTokenCreated:
        return _answer(self._run(create_repo_token, body=_model(RepoTokenRequest, body)), RepoTokenCreated)

    def get_repo_token(self, token: str) -> RepoTokenInfo:
        return _answer(self._run(get_repo_token, token=token), RepoTokenInfo)

    def delete_repo_token(self, token: str) -> None:
        """Deletes (revokes) a repo token by its text, when a sandbox session ends."""
        _done(self._run(delete_repo_token, token=token))

    def create_repo_key(self, repo_id: str, body: RepoKeyRequest | Mapping[str, Any]) -> RepoKeyCreated:
        body = _model(RepoKeyRequest, body)
        return _answer(self._run(create_repo_key, repo_id=repo_id, body=body), RepoKeyCreated)

    # Operations.
    def health(self) -> None:
        _done(self._run(healthz))

    def readiness(self) -> dict[str, Any]:
        response = self._run(readyz)
        _done(response)
        return response.parsed.to_dict()


class AsyncTessera(_Base):
    """As ``Tessera``, for asyncio: every method is a coroutine."""

    def acting_as(self, token: str) -> AsyncTessera:
        return AsyncTessera(self._base_url, token, timeout=self._timeout, **self._httpx_args)

    async def _run(self, call: Any, **kwargs: Any) -> Response[Any]:
        try:
            return await call.asyncio_detailed(client=self.raw, **kwargs)
        except httpx.HTTPError as error:
            raise TesseraError(0, detail=f"tessera could not be reached: {error}") from error

    async def aclose(self) -> None:
        await self.raw.get_async_httpx_client().aclose()

    async def create_token(self, body: CreateTokenRequest | Mapping[str, Any]) -> CreatedToken:
        return _answer(await self._run(create_token, body=_model(CreateTokenRequest, body)), CreatedToken)

    async def list_tokens(
        self,
        *,
        status: str | None = None,
        owner: str | None = None,
        resource: str | None = None,
        name: str | None = None,
        expiring_within: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> TokenList:
        """One page of the tokens the caller may see, newest first; ``expiring_within``
        (``"7d"``, ``"12h"``) keeps the live ones about to expire."""
        query = _query(
            status=status, owner=owner, resource=resource, name=name,
            expiring_within=expiring_within, limit=limit, cursor=cursor,
        )
        return _answer(await self._run(list_tokens, **query), TokenList)

    async def get_token(self, token_id: str) -> TokenView:
        return _answer(await self._run(get_token, id=token_id), TokenView)

    async def token_usage(
        self, token_id: str, *, from_: str | None = None, to: str | None = None, granularity: str | None = None
    ) -> UsageReport:
        query = _query(from_=from_, to=to, granularity=granularity)
        return _answer(await self._run(token_usage, id=token_id, **query), UsageReport)

    async def list_audit(
        self,
        *,
        actor: str | None = None,
        target: str | None = None,
        action: str | None = None,
        from_: datetime | str | None = None,
        to: datetime | str | None = None,
        order: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> AuditList:
        query = _query(
            actor=actor, target=target, action=action, from_=from_, to=to, order=order, limit=limit, cursor=cursor
        )
        return _answer(await self._run(list_audit, **query), AuditList)

    async def verify_audit(self) -> AuditVerification:
        return _answer(await self._run(verify_audit), AuditVerification)

    async def update_token(self, token_id: str, body: UpdateTokenRequest | Mapping[str, Any]) -> TokenView:
        body = _model(UpdateTokenRequest, body)
        return _answer(await self._run(update_token, id=token_id, body=body), TokenView)

    async def revoke_token(self, token_id: str) -> TokenView:
        return _answer(await self._run(revoke_token, id=token_id), TokenView)

    async def rotate_token(self, token_id: str, grace_seconds: int | None = None) -> CreatedToken:
        body = _rotation(grace_seconds)
        return _answer(await self._run(rotate_token, id=token_id, body=body), CreatedToken)

    async def rotate_self(self, grace_seconds: int | None = None) -> CreatedToken:
        return _answer(await self._run(rotate_self, body=_rotation(grace_seconds)), CreatedToken)

    async def whoami(self) -> TokenView:
        return _answer(await self._run(whoami), TokenView)

    async def revoke_self(self) -> TokenView:
        return _answer(await self._run(revoke_self), TokenView)

    async def verify(self, body: VerifyRequest | Mapping[str, Any]) -> VerifyResponse:
        return _answer(await self._run(verify, body=_model(VerifyRequest, body)), VerifyResponse)

    async def introspect(self, token: str, client_ip: str | None = None) -> Introspection:
        form = PresentedTokenForm(token=token, client_ip=UNSET if client_ip is None else client_ip)
        return _answer(await self._run(introspect, body=form), Introspection)

    async def revoke_presented(self, token: str) -> None:
        _done(await self._run(revoke_presented, body=PresentedTokenForm(token=token)))

    async def create_webhook(self, body: CreateWebhookRequest | Mapping[str, Any]) -> CreatedWebhook:
        body = _model(CreateWebhookRequest, body)
        return _answer(await self._run(create_webhook, body=body), CreatedWebhook)

    async def list_webhooks(self) -> WebhookList:
        return _answer(await self._run(list_webhooks), WebhookList)

    async def get_webhook(self, webhook_id: str) -> WebhookView:
        return _answer(await self._run(get_webhook, id=webhook_id), WebhookView)

    async def update_webhook(self, webhook_id: str, body: UpdateWebhookRequest | Mapping[str, Any]) -> WebhookView:
        body = _model(UpdateWebhookRequest, body)
        return _answer(await self._run(update_webhook, id=webhook_id, body=body), WebhookView)

    async def delete_webhook(self, webhook_id: str) -> None:
        _done(await self._run(delete_webhook, id=webhook_id))

    async def webhook_deliveries(
        self, webhook_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> DeliveryList:
        query = _query(limit=limit, cursor=cursor)
        return _answer(await self._run(webhook_deliveries, id=webhook_id, **query), DeliveryList)

    async def report_leaks(self, reports: list[LeakReport] | list[Mapping[str, Any]]) -> list[LeakVerdict]:
        body = [_model(LeakReport, report) for report in reports]
        return _list(await self._run(report_leaks, body=body), LeakVerdict)

    async def catalogue(self) -> Catalogue:
        return _answer(await self._run(catalogue), Catalogue)

    async def create_repo_token(self, body: RepoTokenRequest | Mapping[str, Any]) -> RepoTokenCreated:
        body = _model(RepoTokenRequest, body)
        return _answer(await self._run(create_repo_token, body=body), RepoTokenCreated)

    async def get_repo_token(self, token: str) -> RepoTokenInfo:
        return _answer(await self._run(get_repo_token, token=token), RepoTokenInfo)

    async def delete_repo_token(self, token: str) -> None:
        _done(await self._run(delete_repo_token, token=token))

    async def create_repo_key(self, repo_id: str, body: RepoKeyRequest | Mapping[str, Any]) -> RepoKeyCreated:
        body = _model(RepoKeyRequest, body)
        return _answer(await self._run(create_repo_key, repo_id=repo_id, body=body), RepoKeyCreated)

    async def health(self) -> None:
        _done(await self._run(healthz))

    async def readiness(self) -> dict[str, Any]:
        response = await self._run(readyz)
        _done(response)
        return response.parsed.to_dict()
