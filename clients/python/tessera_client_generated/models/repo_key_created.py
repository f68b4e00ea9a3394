from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="RepoKeyCreated")


@_attrs_define
class RepoKeyCreated:
    """No `Debug`: it carries the secret.

    Attributes:
        id (str):
        key (str): Not a credential alone: use `key:secret` as HTTP Basic credentials.
        secret (str): Shown once.
        success (bool):
    """

    id: str
    key: str
    secret: str
    success: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        key = self.key

        secret = self.secret

        success = self.success

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "key": key,
                "secret": secret,
                "success": success,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        key = d.pop("key")

        secret = d.pop("secret")

        success = d.pop("success")

        repo_key_created = cls(
            id=id,
            key=key,
            secret=secret,
            success=success,
        )

        repo_key_created.additional_properties = d
        return repo_key_created

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
