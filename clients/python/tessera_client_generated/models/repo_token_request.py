from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="RepoTokenRequest")


@_attrs_define
class RepoTokenRequest:
    """Relace: `POST /v1/repo_token`.

    Example:
        {'name': 'sandbox-session-1842', 'repo_ids': ['repo_7f3a', 'repo_91bc']}

    Attributes:
        name (str): A token's name as the server takes it: 1 to 100 characters, not blank, no
            control characters.
        repo_ids (list[str]): Repository ids the token may read and write.
    """

    name: str
    repo_ids: list[str]

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        repo_ids = self.repo_ids

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "repo_ids": repo_ids,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        repo_ids = cast(list[str], d.pop("repo_ids"))

        repo_token_request = cls(
            name=name,
            repo_ids=repo_ids,
        )

        return repo_token_request
