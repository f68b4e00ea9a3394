from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.refill_every import RefillEvery

T = TypeVar("T", bound="RefillBody")


@_attrs_define
class RefillBody:
    """
    Attributes:
        amount (int):
        every (RefillEvery): How often credits are refilled.
    """

    amount: int
    every: RefillEvery

    def to_dict(self) -> dict[str, Any]:
        amount = self.amount

        every = self.every.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "amount": amount,
                "every": every,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        amount = d.pop("amount")

        every = RefillEvery(d.pop("every"))

        refill_body = cls(
            amount=amount,
            every=every,
        )

        return refill_body
