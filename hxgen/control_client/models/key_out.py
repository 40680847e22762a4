from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
import datetime






T = TypeVar("T", bound="KeyOut")



@_attrs_define
class KeyOut:
    """ 
        Attributes:
            created (datetime.datetime):
            expires (datetime.datetime | None): When the key stops working; null: never.
            id (str): The key's public id (the `hx-<id>-` part of the key).
            note (None | str):
            origin (str): inventory (from the controller's inventory, synced on converge) or control (created on the host
                through hx-control).
            revoked (datetime.datetime | None): When the key was revoked; null: not revoked.
            status (str): ok, expired or revoked, now.
            tenant (str):
            replaces (None | str | Unset): The key this one was rotated from.
     """

    created: datetime.datetime
    expires: datetime.datetime | None
    id: str
    note: None | str
    origin: str
    revoked: datetime.datetime | None
    status: str
    tenant: str
    replaces: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        created = self.created.isoformat()

        expires: None | str
        if isinstance(self.expires, datetime.datetime):
            expires = self.expires.isoformat()
        else:
            expires = self.expires

        id = self.id

        note: None | str
        note = self.note

        origin = self.origin

        revoked: None | str
        if isinstance(self.revoked, datetime.datetime):
            revoked = self.revoked.isoformat()
        else:
            revoked = self.revoked

        status = self.status

        tenant = self.tenant

        replaces: None | str | Unset
        if isinstance(self.replaces, Unset):
            replaces = UNSET
        else:
            replaces = self.replaces


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "created": created,
            "expires": expires,
            "id": id,
            "note": note,
            "origin": origin,
            "revoked": revoked,
            "status": status,
            "tenant": tenant,
        })
        if replaces is not UNSET:
            field_dict["replaces"] = replaces

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        created = datetime.datetime.fromisoformat(d.pop("created"))




        def _parse_expires(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                expires_type_0 = datetime.datetime.fromisoformat(data)



                return expires_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        expires = _parse_expires(d.pop("expires"))


        id = d.pop("id")

        def _parse_note(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        note = _parse_note(d.pop("note"))


        origin = d.pop("origin")

        def _parse_revoked(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                revoked_type_0 = datetime.datetime.fromisoformat(data)



                return revoked_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        revoked = _parse_revoked(d.pop("revoked"))


        status = d.pop("status")

        tenant = d.pop("tenant")

        def _parse_replaces(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        replaces = _parse_replaces(d.pop("replaces", UNSET))


        key_out = cls(
            created=created,
            expires=expires,
            id=id,
            note=note,
            origin=origin,
            revoked=revoked,
            status=status,
            tenant=tenant,
            replaces=replaces,
        )


        key_out.additional_properties = d
        return key_out

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
