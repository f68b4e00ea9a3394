from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.repo_key_created import RepoKeyCreated
from ...models.repo_key_request import RepoKeyRequest
from ...types import Response


def _get_kwargs(
    repo_id: str,
    *,
    body: RepoKeyRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/repo/{repo_id}/apikey".format(
            repo_id=quote(str(repo_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | RepoKeyCreated | None:
    if response.status_code == 200:
        response_200 = RepoKeyCreated.from_dict(response.json())

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

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

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
) -> Response[Problem | RepoKeyCreated]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    repo_id: str,
    *,
    client: AuthenticatedClient,
    body: RepoKeyRequest,
) -> Response[Problem | RepoKeyCreated]:
    """Creates an API key (id + secret) for one repository at an access level.

    Args:
        repo_id (str): A repository's id: 1 to 200 visible ASCII characters, not `*`.
        body (RepoKeyRequest): Flashback: `POST /repo/{repoId}/apikey`. Example: {'accessType':
            'READ', 'name': 'deploy-key'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | RepoKeyCreated]
    """

    kwargs = _get_kwargs(
        repo_id=repo_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    repo_id: str,
    *,
    client: AuthenticatedClient,
    body: RepoKeyRequest,
) -> Problem | RepoKeyCreated | None:
    """Creates an API key (id + secret) for one repository at an access level.

    Args:
        repo_id (str): A repository's id: 1 to 200 visible ASCII characters, not `*`.
        body (RepoKeyRequest): Flashback: `POST /repo/{repoId}/apikey`. Example: {'accessType':
            'READ', 'name': 'deploy-key'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | RepoKeyCreated
    """

    return sync_detailed(
        repo_id=repo_id,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    repo_id: str,
    *,
    client: AuthenticatedClient,
    body: RepoKeyRequest,
) -> Response[Problem | RepoKeyCreated]:
    """Creates an API key (id + secret) for one repository at an access level.

    Args:
        repo_id (str): A repository's id: 1 to 200 visible ASCII characters, not `*`.
        body (RepoKeyRequest): Flashback: `POST /repo/{repoId}/apikey`. Example: {'accessType':
            'READ', 'name': 'deploy-key'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | RepoKeyCreated]
    """

    kwargs = _get_kwargs(
        repo_id=repo_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    repo_id: str,
    *,
    client: AuthenticatedClient,
    body: RepoKeyRequest,
) -> Problem | RepoKeyCreated | None:
    """Creates an API key (id + secret) for one repository at an access level.

    Args:
        repo_id (str): A repository's id: 1 to 200 visible ASCII characters, not `*`.
        body (RepoKeyRequest): Flashback: `POST /repo/{repoId}/apikey`. Example: {'accessType':
            'READ', 'name': 'deploy-key'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | RepoKeyCreated
    """

    return (
        await asyncio_detailed(
            repo_id=repo_id,
            client=client,
            body=body,
        )
    ).parsed
