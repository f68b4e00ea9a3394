from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="RepoTokenCreated")


@_attrs_define
class RepoTokenCreated:
    """No `Debug`: it carries the token.

    Attributes:
        id (str):
        name (str):
        repo_ids (list[str]):
        token (str): Shown once.
    """

    id: str
    name: str
    repo_ids: list[str]
    token: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        name = self.name

        repo_ids = self.repo_ids

        token = self.token

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "name": name,
                "repo_ids": repo_ids,
                "token": token,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        name = d.pop("name")

        repo_ids = cast(list[str], d.pop("repo_ids"))

        token = d.pop("token")

        repo_token_created = cls(
            id=id,
            name=name,
            repo_ids=repo_ids,
            token=token,
        )

        repo_token_created.additional_properties = d
        return repo_token_created

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
