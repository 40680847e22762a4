from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error_body import ErrorBody
from ...models.rollout_out import RolloutOut
from typing import cast



def _get_kwargs(
    alias: str,

) -> dict[str, Any]:
    

    

    

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/admin/api/v1/rollouts/{alias}/restart".format(alias=quote(str(alias), safe=""),),
    }


    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorBody | RolloutOut | None:
    if response.status_code == 200:
        response_200 = RolloutOut.from_dict(response.json())



        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())



        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())



        return response_401

    if response.status_code == 403:
        response_403 = ErrorBody.from_dict(response.json())



        return response_403

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())



        return response_404

    if response.status_code == 409:
        response_409 = ErrorBody.from_dict(response.json())



        return response_409

    if response.status_code == 503:
        response_503 = ErrorBody.from_dict(response.json())



        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ErrorBody | RolloutOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    alias: str,
    *,
    client: AuthenticatedClient,

) -> Response[ErrorBody | RolloutOut]:
    """ Restart Rollout

     Start an ended rollout (rolled back, or succeeded) again at its first step. 409 while one
    runs (progressing or waiting).

    Args:
        alias (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | RolloutOut]
     """


    kwargs = _get_kwargs(
        alias=alias,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    alias: str,
    *,
    client: AuthenticatedClient,

) -> ErrorBody | RolloutOut | None:
    """ Restart Rollout

     Start an ended rollout (rolled back, or succeeded) again at its first step. 409 while one
    runs (progressing or waiting).

    Args:
        alias (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | RolloutOut
     """


    return sync_detailed(
        alias=alias,
client=client,

    ).parsed

async def asyncio_detailed(
    alias: str,
    *,
    client: AuthenticatedClient,

) -> Response[ErrorBody | RolloutOut]:
    """ Restart Rollout

     Start an ended rollout (rolled back, or succeeded) again at its first step. 409 while one
    runs (progressing or waiting).

    Args:
        alias (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | RolloutOut]
     """


    kwargs = _get_kwargs(
        alias=alias,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    alias: str,
    *,
    client: AuthenticatedClient,

) -> ErrorBody | RolloutOut | None:
    """ Restart Rollout

     Start an ended rollout (rolled back, or succeeded) again at its first step. 409 while one
    runs (progressing or waiting).

    Args:
        alias (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | RolloutOut
     """


    return (await asyncio_detailed(
        alias=alias,
client=client,

    )).parsed
