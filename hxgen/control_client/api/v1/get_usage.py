from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error_body import ErrorBody
from ...models.usage_out import UsageOut
from ...types import UNSET, Unset
from typing import cast
import datetime



def _get_kwargs(
    *,
    start: datetime.datetime | None | Unset = UNSET,
    end: datetime.datetime | None | Unset = UNSET,
    tenant: None | str | Unset = UNSET,
    model: None | str | Unset = UNSET,

) -> dict[str, Any]:
    

    

    params: dict[str, Any] = {}

    json_start: None | str | Unset
    if isinstance(start, Unset):
        json_start = UNSET
    elif isinstance(start, datetime.datetime):
        json_start = start.isoformat()
    else:
        json_start = start
    params["start"] = json_start

    json_end: None | str | Unset
    if isinstance(end, Unset):
        json_end = UNSET
    elif isinstance(end, datetime.datetime):
        json_end = end.isoformat()
    else:
        json_end = end
    params["end"] = json_end

    json_tenant: None | str | Unset
    if isinstance(tenant, Unset):
        json_tenant = UNSET
    else:
        json_tenant = tenant
    params["tenant"] = json_tenant

    json_model: None | str | Unset
    if isinstance(model, Unset):
        json_model = UNSET
    else:
        json_model = model
    params["model"] = json_model


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/admin/api/v1/usage",
        "params": params,
    }


    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorBody | UsageOut | None:
    if response.status_code == 200:
        response_200 = UsageOut.from_dict(response.json())



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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ErrorBody | UsageOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    start: datetime.datetime | None | Unset = UNSET,
    end: datetime.datetime | None | Unset = UNSET,
    tenant: None | str | Unset = UNSET,
    model: None | str | Unset = UNSET,

) -> Response[ErrorBody | UsageOut]:
    """ Get Usage

     Requests, tokens and cost per tenant and model over a period; a user sees its own tenant.

    Args:
        start (datetime.datetime | None | Unset): ISO 8601 with a time zone; default: the start of
            today in the usage time zone.
        end (datetime.datetime | None | Unset): Exclusive; default: now.
        tenant (None | str | Unset): Only this tenant.
        model (None | str | Unset): Only this model (hx.yaml name).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | UsageOut]
     """


    kwargs = _get_kwargs(
        start=start,
end=end,
tenant=tenant,
model=model,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    start: datetime.datetime | None | Unset = UNSET,
    end: datetime.datetime | None | Unset = UNSET,
    tenant: None | str | Unset = UNSET,
    model: None | str | Unset = UNSET,

) -> ErrorBody | UsageOut | None:
    """ Get Usage

     Requests, tokens and cost per tenant and model over a period; a user sees its own tenant.

    Args:
        start (datetime.datetime | None | Unset): ISO 8601 with a time zone; default: the start of
            today in the usage time zone.
        end (datetime.datetime | None | Unset): Exclusive; default: now.
        tenant (None | str | Unset): Only this tenant.
        model (None | str | Unset): Only this model (hx.yaml name).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | UsageOut
     """


    return sync_detailed(
        client=client,
start=start,
end=end,
tenant=tenant,
model=model,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    start: datetime.datetime | None | Unset = UNSET,
    end: datetime.datetime | None | Unset = UNSET,
    tenant: None | str | Unset = UNSET,
    model: None | str | Unset = UNSET,

) -> Response[ErrorBody | UsageOut]:
    """ Get Usage

     Requests, tokens and cost per tenant and model over a period; a user sees its own tenant.

    Args:
        start (datetime.datetime | None | Unset): ISO 8601 with a time zone; default: the start of
            today in the usage time zone.
        end (datetime.datetime | None | Unset): Exclusive; default: now.
        tenant (None | str | Unset): Only this tenant.
        model (None | str | Unset): Only this model (hx.yaml name).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | UsageOut]
     """


    kwargs = _get_kwargs(
        start=start,
end=end,
tenant=tenant,
model=model,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    start: datetime.datetime | None | Unset = UNSET,
    end: datetime.datetime | None | Unset = UNSET,
    tenant: None | str | Unset = UNSET,
    model: None | str | Unset = UNSET,

) -> ErrorBody | UsageOut | None:
    """ Get Usage

     Requests, tokens and cost per tenant and model over a period; a user sees its own tenant.

    Args:
        start (datetime.datetime | None | Unset): ISO 8601 with a time zone; default: the start of
            today in the usage time zone.
        end (datetime.datetime | None | Unset): Exclusive; default: now.
        tenant (None | str | Unset): Only this tenant.
        model (None | str | Unset): Only this model (hx.yaml name).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | UsageOut
     """


    return (await asyncio_detailed(
        client=client,
start=start,
end=end,
tenant=tenant,
model=model,

    )).parsed
