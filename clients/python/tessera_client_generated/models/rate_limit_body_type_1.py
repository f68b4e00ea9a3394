from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="RateLimitBodyType1")


@_attrs_define
class RateLimitBodyType1:
    """
    Attributes:
        burst (int):
        per_minute (int):
    """

    burst: int
    per_minute: int

    def to_dict(self) -> dict[str, Any]:
        burst = self.burst

        per_minute = self.per_minute

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "burst": burst,
                "per_minute": per_minute,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        burst = d.pop("burst")

        per_minute = d.pop("per_minute")

        rate_limit_body_type_1 = cls(
            burst=burst,
            per_minute=per_minute,
        )

        return rate_limit_body_type_1
