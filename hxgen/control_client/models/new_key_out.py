from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.key_out import KeyOut





T = TypeVar("T", bound="NewKeyOut")



@_attrs_define
class NewKeyOut:
    """ 
        Attributes:
            key (KeyOut):
            secret (str): The key itself: shown this once, never stored (only its SHA-256 is).
            replaced (KeyOut | None | Unset): For a rotation: the old key, with the end of its overlap as its expiry.
     """

    key: KeyOut
    secret: str
    replaced: KeyOut | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.key_out import KeyOut # noqa: PLC0415
        key = self.key.to_dict()

        secret = self.secret

        replaced: dict[str, Any] | None | Unset
        if isinstance(self.replaced, Unset):
            replaced = UNSET
        elif isinstance(self.replaced, KeyOut):
            replaced = self.replaced.to_dict()
        else:
            replaced = self.replaced


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "key": key,
            "secret": secret,
        })
        if replaced is not UNSET:
            field_dict["replaced"] = replaced

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.key_out import KeyOut # noqa: PLC0415
        d = dict(src_dict)
        key = KeyOut.from_dict(d.pop("key"))




        secret = d.pop("secret")

        def _parse_replaced(data: object) -> KeyOut | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                replaced_type_0 = KeyOut.from_dict(data)



                return replaced_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(KeyOut | None | Unset, data)

        replaced = _parse_replaced(d.pop("replaced", UNSET))


        new_key_out = cls(
            key=key,
            secret=secret,
            replaced=replaced,
        )


        new_key_out.additional_properties = d
        return new_key_out

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
