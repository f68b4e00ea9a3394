from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.repo_token_created import RepoTokenCreated
from ...models.repo_token_request import RepoTokenRequest
from ...types import Response


def _get_kwargs(
    *,
    body: RepoTokenRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/repo_token",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | RepoTokenCreated | None:
    if response.status_code == 200:
        response_200 = RepoTokenCreated.from_dict(response.json())

        return response_200

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
) -> Response[Problem | RepoTokenCreated]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: RepoTokenRequest,
) -> Response[Problem | RepoTokenCreated]:
    """Creates a token with read/write access to the listed repositories.

    Args:
        body (RepoTokenRequest): Relace: `POST /v1/repo_token`. Example: {'name': 'sandbox-
            session-1842', 'repo_ids': ['repo_7f3a', 'repo_91bc']}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | RepoTokenCreated]
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
    body: RepoTokenRequest,
) -> Problem | RepoTokenCreated | None:
    """Creates a token with read/write access to the listed repositories.

    Args:
        body (RepoTokenRequest): Relace: `POST /v1/repo_token`. Example: {'name': 'sandbox-
            session-1842', 'repo_ids': ['repo_7f3a', 'repo_91bc']}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | RepoTokenCreated
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: RepoTokenRequest,
) -> Response[Problem | RepoTokenCreated]:
    """Creates a token with read/write access to the listed repositories.

    Args:
        body (RepoTokenRequest): Relace: `POST /v1/repo_token`. Example: {'name': 'sandbox-
            session-1842', 'repo_ids': ['repo_7f3a', 'repo_91bc']}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | RepoTokenCreated]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: RepoTokenRequest,
) -> Problem | RepoTokenCreated | None:
    """Creates a token with read/write access to the listed repositories.

    Args:
        body (RepoTokenRequest): Relace: `POST /v1/repo_token`. Example: {'name': 'sandbox-
            session-1842', 'repo_ids': ['repo_7f3a', 'repo_91bc']}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | RepoTokenCreated
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
