from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="UsageLeft")


@_attrs_define
class UsageLeft:
    """What a capped token has left: uses under `max_uses`, and credits.

    Attributes:
        credits_remaining (int | None | Unset):
        uses_remaining (int | None | Unset):
    """

    credits_remaining: int | None | Unset = UNSET
    uses_remaining: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        credits_remaining: int | None | Unset
        if isinstance(self.credits_remaining, Unset):
            credits_remaining = UNSET
        else:
            credits_remaining = self.credits_remaining

        uses_remaining: int | None | Unset
        if isinstance(self.uses_remaining, Unset):
            uses_remaining = UNSET
        else:
            uses_remaining = self.uses_remaining

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if credits_remaining is not UNSET:
            field_dict["credits_remaining"] = credits_remaining
        if uses_remaining is not UNSET:
            field_dict["uses_remaining"] = uses_remaining

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_credits_remaining(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        credits_remaining = _parse_credits_remaining(d.pop("credits_remaining", UNSET))

        def _parse_uses_remaining(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        uses_remaining = _parse_uses_remaining(d.pop("uses_remaining", UNSET))

        usage_left = cls(
            credits_remaining=credits_remaining,
            uses_remaining=uses_remaining,
        )

        usage_left.additional_properties = d
        return usage_left

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
