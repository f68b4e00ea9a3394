from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.created_token import CreatedToken
from ...models.problem import Problem
from ...models.rotate_request import RotateRequest
from ...types import Response


def _get_kwargs(
    id: str,
    *,
    body: RotateRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/tokens/{id}/rotate".format(
            id=quote(str(id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> CreatedToken | Problem | None:
    if response.status_code == 200:
        response_200 = CreatedToken.from_dict(response.json())

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

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

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
) -> Response[CreatedToken | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    id: str,
    *,
    client: AuthenticatedClient,
    body: RotateRequest,
) -> Response[CreatedToken | Problem]:
    """Gives a token a new secret: same id, grants, limits, usage and children. The
    previous secret works on for `grace_seconds`. Managers may rotate what they may edit.

    Args:
        id (str):
        body (RotateRequest): `POST /v1/tokens/{id}/rotate` and `POST /v1/tokens/self/rotate`: a
            new secret for
            the same token. The answer is shaped as a creation's, the new secret in `token`. Example:
            {'grace_seconds': 3600}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CreatedToken | Problem]
    """

    kwargs = _get_kwargs(
        id=id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    id: str,
    *,
    client: AuthenticatedClient,
    body: RotateRequest,
) -> CreatedToken | Problem | None:
    """Gives a token a new secret: same id, grants, limits, usage and children. The
    previous secret works on for `grace_seconds`. Managers may rotate what they may edit.

    Args:
        id (str):
        body (RotateRequest): `POST /v1/tokens/{id}/rotate` and `POST /v1/tokens/self/rotate`: a
            new secret for
            the same token. The answer is shaped as a creation's, the new secret in `token`. Example:
            {'grace_seconds': 3600}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CreatedToken | Problem
    """

    return sync_detailed(
        id=id,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    id: str,
    *,
    client: AuthenticatedClient,
    body: RotateRequest,
) -> Response[CreatedToken | Problem]:
    """Gives a token a new secret: same id, grants, limits, usage and children. The
    previous secret works on for `grace_seconds`. Managers may rotate what they may edit.

    Args:
        id (str):
        body (RotateRequest): `POST /v1/tokens/{id}/rotate` and `POST /v1/tokens/self/rotate`: a
            new secret for
            the same token. The answer is shaped as a creation's, the new secret in `token`. Example:
            {'grace_seconds': 3600}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CreatedToken | Problem]
    """

    kwargs = _get_kwargs(
        id=id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: str,
    *,
    client: AuthenticatedClient,
    body: RotateRequest,
) -> CreatedToken | Problem | None:
    """Gives a token a new secret: same id, grants, limits, usage and children. The
    previous secret works on for `grace_seconds`. Managers may rotate what they may edit.

    Args:
        id (str):
        body (RotateRequest): `POST /v1/tokens/{id}/rotate` and `POST /v1/tokens/self/rotate`: a
            new secret for
            the same token. The answer is shaped as a creation's, the new secret in `token`. Example:
            {'grace_seconds': 3600}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CreatedToken | Problem
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            body=body,
        )
    ).parsed
