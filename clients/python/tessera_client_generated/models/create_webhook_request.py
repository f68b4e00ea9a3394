from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="CreateWebhookRequest")


@_attrs_define
class CreateWebhookRequest:
    """`POST /v1/webhooks`.

    Example:
        {'events': ['token.revoked', 'token.leaked'], 'url': 'https://example.com/hooks/tessera'}

    Attributes:
        events (list[str]): The events to send (`token.created`, `token.updated`, `token.rotated`,
            `token.revoked`, `token.expiring`, `token.expired`, `token.reuse_detected`,
            `token.leaked`, `token.usage_exhausted`), or `["*"]` for all.
        url (str): Where deliveries are POSTed: http or https (config `webhook_allowed_hosts`
            may name the hosts allowed).
        description (None | str | Unset):
    """

    events: list[str]
    url: str
    description: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        events = self.events

        url = self.url

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "events": events,
                "url": url,
            }
        )
        if description is not UNSET:
            field_dict["description"] = description

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        events = cast(list[str], d.pop("events"))

        url = d.pop("url")

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        create_webhook_request = cls(
            events=events,
            url=url,
            description=description,
        )

        return create_webhook_request
