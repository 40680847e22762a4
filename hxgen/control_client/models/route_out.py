from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.weight_out import WeightOut





T = TypeVar("T", bound="RouteOut")



@_attrs_define
class RouteOut:
    """ 
        Attributes:
            alias (str): The name clients send as `model`.
            changed (datetime.datetime | None): When the live weights were last set; null: never.
            changed_by (None | str): Who set them: <tenant>/<key id>, or hx-control/sync.
            spec_split (list[WeightOut]): The spec's weights.
            split (list[WeightOut]): The live weights, in the spec's order.
            sticky (str): tenant or request: what keeps a caller on one variant.
            weights_owner (str): spec: a converge sets the spec's split again; control: weights set here survive a converge.
     """

    alias: str
    changed: datetime.datetime | None
    changed_by: None | str
    spec_split: list[WeightOut]
    split: list[WeightOut]
    sticky: str
    weights_owner: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.weight_out import WeightOut # noqa: PLC0415
        alias = self.alias

        changed: None | str
        if isinstance(self.changed, datetime.datetime):
            changed = self.changed.isoformat()
        else:
            changed = self.changed

        changed_by: None | str
        changed_by = self.changed_by

        spec_split = []
        for spec_split_item_data in self.spec_split:
            spec_split_item = spec_split_item_data.to_dict()
            spec_split.append(spec_split_item)



        split = []
        for split_item_data in self.split:
            split_item = split_item_data.to_dict()
            split.append(split_item)



        sticky = self.sticky

        weights_owner = self.weights_owner


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "alias": alias,
            "changed": changed,
            "changed_by": changed_by,
            "spec_split": spec_split,
            "split": split,
            "sticky": sticky,
            "weights_owner": weights_owner,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.weight_out import WeightOut # noqa: PLC0415
        d = dict(src_dict)
        alias = d.pop("alias")

        def _parse_changed(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                changed_type_0 = datetime.datetime.fromisoformat(data)



                return changed_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        changed = _parse_changed(d.pop("changed"))


        def _parse_changed_by(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        changed_by = _parse_changed_by(d.pop("changed_by"))


        spec_split = []
        _spec_split = d.pop("spec_split")
        for spec_split_item_data in (_spec_split):
            spec_split_item = WeightOut.from_dict(spec_split_item_data)



            spec_split.append(spec_split_item)


        split = []
        _split = d.pop("split")
        for split_item_data in (_split):
            split_item = WeightOut.from_dict(split_item_data)



            split.append(split_item)


        sticky = d.pop("sticky")

        weights_owner = d.pop("weights_owner")

        route_out = cls(
            alias=alias,
            changed=changed,
            changed_by=changed_by,
            spec_split=spec_split,
            split=split,
            sticky=sticky,
            weights_owner=weights_owner,
        )


        route_out.additional_properties = d
        return route_out

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
