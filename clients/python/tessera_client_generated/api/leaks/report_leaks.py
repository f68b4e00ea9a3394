from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.leak_report import LeakReport
from ...models.leak_verdict import LeakVerdict
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: list[LeakReport],
    github_public_key_identifier: None | str | Unset = UNSET,
    github_public_key_signature: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(github_public_key_identifier, Unset):
        headers["Github-Public-Key-Identifier"] = github_public_key_identifier

    if not isinstance(github_public_key_signature, Unset):
        headers["Github-Public-Key-Signature"] = github_public_key_signature

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/leaks",
    }

    _kwargs["json"] = []
    for body_item_data in body:
        body_item = body_item_data.to_dict()
        _kwargs["json"].append(body_item)

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | list[LeakVerdict] | None:
    if response.status_code == 200:
        response_200 = []
        _response_200 = response.json()
        for response_200_item_data in _response_200:
            response_200_item = LeakVerdict.from_dict(response_200_item_data)

            response_200.append(response_200_item)

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
) -> Response[Problem | list[LeakVerdict]]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: list[LeakReport],
    github_public_key_identifier: None | str | Unset = UNSET,
    github_public_key_signature: None | str | Unset = UNSET,
) -> Response[Problem | list[LeakVerdict]]:
    """Labels each reported token `true_positive` (a live token of this deployment,
    acted on at once) or `false_positive`. Signed as GitHub signs, or unsigned with
    a token that has `tokens:manage`, or unsigned where `leak_reports_unsigned =
    "accept"`.

    Args:
        github_public_key_identifier (None | str | Unset):
        github_public_key_signature (None | str | Unset):
        body (list[LeakReport]):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | list[LeakVerdict]]
    """

    kwargs = _get_kwargs(
        body=body,
        github_public_key_identifier=github_public_key_identifier,
        github_public_key_signature=github_public_key_signature,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: list[LeakReport],
    github_public_key_identifier: None | str | Unset = UNSET,
    github_public_key_signature: None | str | Unset = UNSET,
) -> Problem | list[LeakVerdict] | None:
    """Labels each reported token `true_positive` (a live token of this deployment,
    acted on at once) or `false_positive`. Signed as GitHub signs, or unsigned with
    a token that has `tokens:manage`, or unsigned where `leak_reports_unsigned =
    "accept"`.

    Args:
        github_public_key_identifier (None | str | Unset):
        github_public_key_signature (None | str | Unset):
        body (list[LeakReport]):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | list[LeakVerdict]
    """

    return sync_detailed(
        client=client,
        body=body,
        github_public_key_identifier=github_public_key_identifier,
        github_public_key_signature=github_public_key_signature,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: list[LeakReport],
    github_public_key_identifier: None | str | Unset = UNSET,
    github_public_key_signature: None | str | Unset = UNSET,
) -> Response[Problem | list[LeakVerdict]]:
    """Labels each reported token `true_positive` (a live token of this deployment,
    acted on at once) or `false_positive`. Signed as GitHub signs, or unsigned with
    a token that has `tokens:manage`, or unsigned where `leak_reports_unsigned =
    "accept"`.

    Args:
        github_public_key_identifier (None | str | Unset):
        github_public_key_signature (None | str | Unset):
        body (list[LeakReport]):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | list[LeakVerdict]]
    """

    kwargs = _get_kwargs(
        body=body,
        github_public_key_identifier=github_public_key_identifier,
        github_public_key_signature=github_public_key_signature,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: list[LeakReport],
    github_public_key_identifier: None | str | Unset = UNSET,
    github_public_key_signature: None | str | Unset = UNSET,
) -> Problem | list[LeakVerdict] | None:
    """Labels each reported token `true_positive` (a live token of this deployment,
    acted on at once) or `false_positive`. Signed as GitHub signs, or unsigned with
    a token that has `tokens:manage`, or unsigned where `leak_reports_unsigned =
    "accept"`.

    Args:
        github_public_key_identifier (None | str | Unset):
        github_public_key_signature (None | str | Unset):
        body (list[LeakReport]):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | list[LeakVerdict]
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            github_public_key_identifier=github_public_key_identifier,
            github_public_key_signature=github_public_key_signature,
        )
    ).parsed
