from http import HTTPStatus
from typing import Any, cast

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    x_original_method: None | str | Unset = UNSET,
    x_original_uri: None | str | Unset = UNSET,
    x_forwarded_method: None | str | Unset = UNSET,
    x_forwarded_uri: None | str | Unset = UNSET,
    x_tessera_rate_limited_as: int | None | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_original_method, Unset):
        headers["X-Original-Method"] = x_original_method

    if not isinstance(x_original_uri, Unset):
        headers["X-Original-URI"] = x_original_uri

    if not isinstance(x_forwarded_method, Unset):
        headers["X-Forwarded-Method"] = x_forwarded_method

    if not isinstance(x_forwarded_uri, Unset):
        headers["X-Forwarded-Uri"] = x_forwarded_uri

    if not isinstance(x_tessera_rate_limited_as, Unset):
        headers["X-Tessera-Rate-Limited-As"] = x_tessera_rate_limited_as

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/authz",
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Any | Problem | None:
    if response.status_code == 200:
        response_200 = cast(Any, None)
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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Any | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    x_original_method: None | str | Unset = UNSET,
    x_original_uri: None | str | Unset = UNSET,
    x_forwarded_method: None | str | Unset = UNSET,
    x_forwarded_uri: None | str | Unset = UNSET,
    x_tessera_rate_limited_as: int | None | Unset = UNSET,
) -> Response[Any | Problem]:
    """Any method on `/v1/authz` and `/v1/authz/...`: 200 with identity headers to
    pass the request on, 401, 403 or 429 (with a problem body) to refuse it.

    Args:
        x_original_method (None | str | Unset):
        x_original_uri (None | str | Unset):
        x_forwarded_method (None | str | Unset):
        x_forwarded_uri (None | str | Unset):
        x_tessera_rate_limited_as (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem]
    """

    kwargs = _get_kwargs(
        x_original_method=x_original_method,
        x_original_uri=x_original_uri,
        x_forwarded_method=x_forwarded_method,
        x_forwarded_uri=x_forwarded_uri,
        x_tessera_rate_limited_as=x_tessera_rate_limited_as,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    x_original_method: None | str | Unset = UNSET,
    x_original_uri: None | str | Unset = UNSET,
    x_forwarded_method: None | str | Unset = UNSET,
    x_forwarded_uri: None | str | Unset = UNSET,
    x_tessera_rate_limited_as: int | None | Unset = UNSET,
) -> Any | Problem | None:
    """Any method on `/v1/authz` and `/v1/authz/...`: 200 with identity headers to
    pass the request on, 401, 403 or 429 (with a problem body) to refuse it.

    Args:
        x_original_method (None | str | Unset):
        x_original_uri (None | str | Unset):
        x_forwarded_method (None | str | Unset):
        x_forwarded_uri (None | str | Unset):
        x_tessera_rate_limited_as (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem
    """

    return sync_detailed(
        client=client,
        x_original_method=x_original_method,
        x_original_uri=x_original_uri,
        x_forwarded_method=x_forwarded_method,
        x_forwarded_uri=x_forwarded_uri,
        x_tessera_rate_limited_as=x_tessera_rate_limited_as,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    x_original_method: None | str | Unset = UNSET,
    x_original_uri: None | str | Unset = UNSET,
    x_forwarded_method: None | str | Unset = UNSET,
    x_forwarded_uri: None | str | Unset = UNSET,
    x_tessera_rate_limited_as: int | None | Unset = UNSET,
) -> Response[Any | Problem]:
    """Any method on `/v1/authz` and `/v1/authz/...`: 200 with identity headers to
    pass the request on, 401, 403 or 429 (with a problem body) to refuse it.

    Args:
        x_original_method (None | str | Unset):
        x_original_uri (None | str | Unset):
        x_forwarded_method (None | str | Unset):
        x_forwarded_uri (None | str | Unset):
        x_tessera_rate_limited_as (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem]
    """

    kwargs = _get_kwargs(
        x_original_method=x_original_method,
        x_original_uri=x_original_uri,
        x_forwarded_method=x_forwarded_method,
        x_forwarded_uri=x_forwarded_uri,
        x_tessera_rate_limited_as=x_tessera_rate_limited_as,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    x_original_method: None | str | Unset = UNSET,
    x_original_uri: None | str | Unset = UNSET,
    x_forwarded_method: None | str | Unset = UNSET,
    x_forwarded_uri: None | str | Unset = UNSET,
    x_tessera_rate_limited_as: int | None | Unset = UNSET,
) -> Any | Problem | None:
    """Any method on `/v1/authz` and `/v1/authz/...`: 200 with identity headers to
    pass the request on, 401, 403 or 429 (with a problem body) to refuse it.

    Args:
        x_original_method (None | str | Unset):
        x_original_uri (None | str | Unset):
        x_forwarded_method (None | str | Unset):
        x_forwarded_uri (None | str | Unset):
        x_tessera_rate_limited_as (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            x_original_method=x_original_method,
            x_original_uri=x_original_uri,
            x_forwarded_method=x_forwarded_method,
            x_forwarded_uri=x_forwarded_uri,
            x_tessera_rate_limited_as=x_tessera_rate_limited_as,
        )
    ).parsed
