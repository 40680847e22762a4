from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.weight_in import WeightIn





T = TypeVar("T", bound="SetWeightsIn")



@_attrs_define
class SetWeightsIn:
    """ 
        Attributes:
            split (list[WeightIn]): Every variant of the route's spec split, once, the weights adding up to 100.
     """

    split: list[WeightIn]





    def to_dict(self) -> dict[str, Any]:
        from ..models.weight_in import WeightIn # noqa: PLC0415
        split = []
        for split_item_data in self.split:
            split_item = split_item_data.to_dict()
            split.append(split_item)




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "split": split,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.weight_in import WeightIn # noqa: PLC0415
        d = dict(src_dict)
        split = []
        _split = d.pop("split")
        for split_item_data in (_split):
            split_item = WeightIn.from_dict(split_item_data)



            split.append(split_item)


        set_weights_in = cls(
            split=split,
        )

        return set_weights_in

