from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="WeightIn")



@_attrs_define
class WeightIn:
    """ 
        Attributes:
            model (str): A variant of the route (a model's hx.yaml name).
            weight (int): Percent of the route's requests, 0 to 100.
     """

    model: str
    weight: int





    def to_dict(self) -> dict[str, Any]:
        model = self.model

        weight = self.weight


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "model": model,
            "weight": weight,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        model = d.pop("model")

        weight = d.pop("weight")

        weight_in = cls(
            model=model,
            weight=weight,
        )

        return weight_in

