from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.audit_actor import AuditActor
    from ..models.audit_entry_view_details import AuditEntryViewDetails


T = TypeVar("T", bound="AuditEntryView")


@_attrs_define
class AuditEntryView:
    """One entry of the audit log. Never holds a token's secret.

    Attributes:
        action (str):
        actor (AuditActor): Who acted: a token (`id` and its name then), or tessera itself (`id` null, and
            `name` says what: `tessera start-up`, `reuse detection`, a signed leak report).
        at (str): RFC 3339, to the millisecond.
        cascade (list[str]): The tokens a revocation took down with the target.
        details (AuditEntryViewDetails): `before` and `after` of the fields an edit changed; `after` for a creation;
            the `reason` and its particulars for a revocation by tessera, a rotation or
            a leak.
        hash_ (str): Hex SHA-256 over `previous_hash` and this entry's content.
        lineage (list[str]): The target's makers from the top (the admin token left out), then the
            target: a manager sees the entries whose lineage names it.
        previous_hash (str): Hex SHA-256 of the entry before (zeros for the first).
        seq (int): Its place in the chain: 1 for the first entry, then one more each time.
        change_seq (int | None | Unset): The change feed's number of the write it records; `null` for what changed
            no token (a sign-in, a leak only flagged).
        client_ip (None | str | Unset): The end client's address, as tessera decided it (`trusted_proxies`).
        request_id (None | str | Unset): The request's `X-Request-Id` (the caller's, or the one tessera answered with).
        target_id (None | str | Unset): The token acted on.
    """

    action: str
    actor: AuditActor
    at: str
    cascade: list[str]
    details: AuditEntryViewDetails
    hash_: str
    lineage: list[str]
    previous_hash: str
    seq: int
    change_seq: int | None | Unset = UNSET
    client_ip: None | str | Unset = UNSET
    request_id: None | str | Unset = UNSET
    target_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        action = self.action

        actor = self.actor.to_dict()

        at = self.at

        cascade = self.cascade

        details = self.details.to_dict()

        hash_ = self.hash_

        lineage = self.lineage

        previous_hash = self.previous_hash

        seq = self.seq

        change_seq: int | None | Unset
        if isinstance(self.change_seq, Unset):
            change_seq = UNSET
        else:
            change_seq = self.change_seq

        client_ip: None | str | Unset
        if isinstance(self.client_ip, Unset):
            client_ip = UNSET
        else:
            client_ip = self.client_ip

        request_id: None | str | Unset
        if isinstance(self.request_id, Unset):
            request_id = UNSET
        else:
            request_id = self.request_id

        target_id: None | str | Unset
        if isinstance(self.target_id, Unset):
            target_id = UNSET
        else:
            target_id = self.target_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "action": action,
                "actor": actor,
                "at": at,
                "cascade": cascade,
                "details": details,
                "hash": hash_,
                "lineage": lineage,
                "previous_hash": previous_hash,
                "seq": seq,
            }
        )
        if change_seq is not UNSET:
            field_dict["change_seq"] = change_seq
        if client_ip is not UNSET:
            field_dict["client_ip"] = client_ip
        if request_id is not UNSET:
            field_dict["request_id"] = request_id
        if target_id is not UNSET:
            field_dict["target_id"] = target_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.audit_actor import AuditActor  # noqa: PLC0415
        from ..models.audit_entry_view_details import AuditEntryViewDetails  # noqa: PLC0415

        d = dict(src_dict)
        action = d.pop("action")

        actor = AuditActor.from_dict(d.pop("actor"))

        at = d.pop("at")

        cascade = cast(list[str], d.pop("cascade"))

        details = AuditEntryViewDetails.from_dict(d.pop("details"))

        hash_ = d.pop("hash")

        lineage = cast(list[str], d.pop("lineage"))

        previous_hash = d.pop("previous_hash")

        seq = d.pop("seq")

        def _parse_change_seq(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        change_seq = _parse_change_seq(d.pop("change_seq", UNSET))

        def _parse_client_ip(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        client_ip = _parse_client_ip(d.pop("client_ip", UNSET))

        def _parse_request_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        request_id = _parse_request_id(d.pop("request_id", UNSET))

        def _parse_target_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        target_id = _parse_target_id(d.pop("target_id", UNSET))

        audit_entry_view = cls(
            action=action,
            actor=actor,
            at=at,
            cascade=cascade,
            details=details,
            hash_=hash_,
            lineage=lineage,
            previous_hash=previous_hash,
            seq=seq,
            change_seq=change_seq,
            client_ip=client_ip,
            request_id=request_id,
            target_id=target_id,
        )

        audit_entry_view.additional_properties = d
        return audit_entry_view

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
