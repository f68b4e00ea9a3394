from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.refill_body import RefillBody


T = TypeVar("T", bound="CreditsBody")


@_attrs_define
class CreditsBody:
    """A balance of credits in a request: `{"remaining": N, "refill": {"amount": M,
    "every": "day"}}`. Each allowed verification spends its `cost` (default 1).

        Attributes:
            remaining (int): The balance to start from.
            refill (None | RefillBody | Unset):
    """

    remaining: int
    refill: None | RefillBody | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.refill_body import RefillBody  # noqa: PLC0415

        remaining = self.remaining

        refill: dict[str, Any] | None | Unset
        if isinstance(self.refill, Unset):
            refill = UNSET
        elif isinstance(self.refill, RefillBody):
            refill = self.refill.to_dict()
        else:
            refill = self.refill

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "remaining": remaining,
            }
        )
        if refill is not UNSET:
            field_dict["refill"] = refill

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.refill_body import RefillBody  # noqa: PLC0415

        d = dict(src_dict)
        remaining = d.pop("remaining")

        def _parse_refill(data: object) -> None | RefillBody | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                refill_type_1 = RefillBody.from_dict(data)

                return refill_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RefillBody | Unset, data)

        refill = _parse_refill(d.pop("refill", UNSET))

        credits_body = cls(
            remaining=remaining,
            refill=refill,
        )

        return credits_body
