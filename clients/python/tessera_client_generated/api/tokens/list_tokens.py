from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.token_list import TokenList
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    status: str | Unset = UNSET,
    owner: str | Unset = UNSET,
    resource: str | Unset = UNSET,
    name: str | Unset = UNSET,
    expiring_within: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["status"] = status

    params["owner"] = owner

    params["resource"] = resource

    params["name"] = name

    params["expiring_within"] = expiring_within

    params["limit"] = limit

    params["cursor"] = cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/tokens",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | TokenList | None:
    if response.status_code == 200:
        response_200 = TokenList.from_dict(response.json())

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Problem | TokenList]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    status: str | Unset = UNSET,
    owner: str | Unset = UNSET,
    resource: str | Unset = UNSET,
    name: str | Unset = UNSET,
    expiring_within: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Response[Problem | TokenList]:
    """Lists the tokens the caller may see (the admin: all; a manager: those it created
    and their descendants), newest first.

    Args:
        status (str | Unset):
        owner (str | Unset):
        resource (str | Unset):
        name (str | Unset):
        expiring_within (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | TokenList]
    """

    kwargs = _get_kwargs(
        status=status,
        owner=owner,
        resource=resource,
        name=name,
        expiring_within=expiring_within,
        limit=limit,
        cursor=cursor,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    status: str | Unset = UNSET,
    owner: str | Unset = UNSET,
    resource: str | Unset = UNSET,
    name: str | Unset = UNSET,
    expiring_within: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Problem | TokenList | None:
    """Lists the tokens the caller may see (the admin: all; a manager: those it created
    and their descendants), newest first.

    Args:
        status (str | Unset):
        owner (str | Unset):
        resource (str | Unset):
        name (str | Unset):
        expiring_within (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | TokenList
    """

    return sync_detailed(
        client=client,
        status=status,
        owner=owner,
        resource=resource,
        name=name,
        expiring_within=expiring_within,
        limit=limit,
        cursor=cursor,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    status: str | Unset = UNSET,
    owner: str | Unset = UNSET,
    resource: str | Unset = UNSET,
    name: str | Unset = UNSET,
    expiring_within: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Response[Problem | TokenList]:
    """Lists the tokens the caller may see (the admin: all; a manager: those it created
    and their descendants), newest first.

    Args:
        status (str | Unset):
        owner (str | Unset):
        resource (str | Unset):
        name (str | Unset):
        expiring_within (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | TokenList]
    """

    kwargs = _get_kwargs(
        status=status,
        owner=owner,
        resource=resource,
        name=name,
        expiring_within=expiring_within,
        limit=limit,
        cursor=cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    status: str | Unset = UNSET,
    owner: str | Unset = UNSET,
    resource: str | Unset = UNSET,
    name: str | Unset = UNSET,
    expiring_within: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Problem | TokenList | None:
    """Lists the tokens the caller may see (the admin: all; a manager: those it created
    and their descendants), newest first.

    Args:
        status (str | Unset):
        owner (str | Unset):
        resource (str | Unset):
        name (str | Unset):
        expiring_within (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | TokenList
    """

    return (
        await asyncio_detailed(
            client=client,
            status=status,
            owner=owner,
            resource=resource,
            name=name,
            expiring_within=expiring_within,
            limit=limit,
            cursor=cursor,
        )
    ).parsed
