from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="WhoAmI")



@_attrs_define
class WhoAmI:
    """ 
        Attributes:
            key_id (str): The id of the key used; 'certificate' for a client certificate.
            permissions (list[str]): What the role may do (hxgen.contracts.control.PERMISSIONS).
            role (str): The tenant's role: admin, operator, user or readonly.
            tenant (str): The tenant of the key the call was made with.
     """

    key_id: str
    permissions: list[str]
    role: str
    tenant: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        key_id = self.key_id

        permissions = self.permissions



        role = self.role

        tenant = self.tenant


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "key_id": key_id,
            "permissions": permissions,
            "role": role,
            "tenant": tenant,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        key_id = d.pop("key_id")

        permissions = cast(list[str], d.pop("permissions"))


        role = d.pop("role")

        tenant = d.pop("tenant")

        who_am_i = cls(
            key_id=key_id,
            permissions=permissions,
            role=role,
            tenant=tenant,
        )


        who_am_i.additional_properties = d
        return who_am_i

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
