from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.create_webhook_request import CreateWebhookRequest
from ...models.created_webhook import CreatedWebhook
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    *,
    body: CreateWebhookRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/webhooks",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> CreatedWebhook | Problem | None:
    if response.status_code == 201:
        response_201 = CreatedWebhook.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = Problem.from_dict(response.json())

        return response_415

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())

        return response_429

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[CreatedWebhook | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: CreateWebhookRequest,
) -> Response[CreatedWebhook | Problem]:
    """Adds an endpoint. Deliveries follow Standard Webhooks: `webhook-id`,
    `webhook-timestamp` and `webhook-signature` headers, signed with the
    endpoint's `secret`, shown in this answer only.

    Args:
        body (CreateWebhookRequest): `POST /v1/webhooks`. Example: {'events': ['token.revoked',
            'token.leaked'], 'url': 'https://example.com/hooks/tessera'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CreatedWebhook | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: CreateWebhookRequest,
) -> CreatedWebhook | Problem | None:
    """Adds an endpoint. Deliveries follow Standard Webhooks: `webhook-id`,
    `webhook-timestamp` and `webhook-signature` headers, signed with the
    endpoint's `secret`, shown in this answer only.

    Args:
        body (CreateWebhookRequest): `POST /v1/webhooks`. Example: {'events': ['token.revoked',
            'token.leaked'], 'url': 'https://example.com/hooks/tessera'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CreatedWebhook | Problem
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: CreateWebhookRequest,
) -> Response[CreatedWebhook | Problem]:
    """Adds an endpoint. Deliveries follow Standard Webhooks: `webhook-id`,
    `webhook-timestamp` and `webhook-signature` headers, signed with the
    endpoint's `secret`, shown in this answer only.

    Args:
        body (CreateWebhookRequest): `POST /v1/webhooks`. Example: {'events': ['token.revoked',
            'token.leaked'], 'url': 'https://example.com/hooks/tessera'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CreatedWebhook | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: CreateWebhookRequest,
) -> CreatedWebhook | Problem | None:
    """Adds an endpoint. Deliveries follow Standard Webhooks: `webhook-id`,
    `webhook-timestamp` and `webhook-signature` headers, signed with the
    endpoint's `secret`, shown in this answer only.

    Args:
        body (CreateWebhookRequest): `POST /v1/webhooks`. Example: {'events': ['token.revoked',
            'token.leaked'], 'url': 'https://example.com/hooks/tessera'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CreatedWebhook | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
