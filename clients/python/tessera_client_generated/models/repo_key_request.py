from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.access_type import AccessType

T = TypeVar("T", bound="RepoKeyRequest")


@_attrs_define
class RepoKeyRequest:
    """Flashback: `POST /repo/{repoId}/apikey`.

    Example:
        {'accessType': 'READ', 'name': 'deploy-key'}

    Attributes:
        access_type (AccessType): What a Flashback key may do.
        name (str): A token's name as the server takes it: 1 to 100 characters, not blank, no
            control characters.
    """

    access_type: AccessType
    name: str

    def to_dict(self) -> dict[str, Any]:
        access_type = self.access_type.value

        name = self.name

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "accessType": access_type,
                "name": name,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        access_type = AccessType(d.pop("accessType"))

        name = d.pop("name")

        repo_key_request = cls(
            access_type=access_type,
            name=name,
        )

        return repo_key_request
