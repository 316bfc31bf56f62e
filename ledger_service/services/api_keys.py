"""API key use cases (the caller is a regulator): issue a key scoped to one member, list, rotate and revoke
keys. The last live key of the last active regulator is never revoked: nobody could admit or issue again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ledger_core.chain.addresses import to_checksum_address
from ledger_core.config import Settings
from ledger_service.identity.api_keys import ApiKeys, IssuedKey, KeyInfo
from ledger_service.membership import Directory
from ledger_service.services.caller import Caller
from ledger_service.services.errors import Refusal, not_found


@dataclass(frozen=True)
class ApiKeyService:
    api_keys: ApiKeys
    directory: Directory
    settings: Settings

    def _lifetime(self, days: int | None) -> timedelta:
        return timedelta(days=days or self.settings.api_key_days)

    def _is_regulator(self, address: str) -> bool:
        member = self.directory.member(address)
        return member.active and member.has_role("REGULATOR")

    def issue(self, caller: Caller, member: str, label: str = "", expires_in_days: int | None = None) -> IssuedKey:
        """A key for a member (of any standing: a suspended member's key works again once it is reinstated)."""
        view = self.directory.member(member)
        if view.org_id == 0:
            raise Refusal(404, "NotMember", f"{view.address} is not a member", {"account": view.address})
        return self.api_keys.issue(view.address, self._lifetime(expires_in_days), label, issued_by=caller.address)

    def list(self, member: str | None, offset: int, limit: int) -> list[KeyInfo]:
        return self.api_keys.list(to_checksum_address(member) if member else None, offset, limit)

    def rotate(self, caller: Caller, key_id: str, expires_in_days: int | None = None) -> IssuedKey:
        """A new key for the same member; the old one stops working."""
        issued = self.api_keys.rotate(key_id, self._lifetime(expires_in_days), caller.address)
        if issued is None:
            raise not_found(f"no API key {key_id}", "UnknownApiKey", key_id=key_id)
        return issued

    def revoke(self, caller: Caller, key_id: str) -> KeyInfo:
        found = self.api_keys.get(key_id)
        if found is not None and found.revoked_at is None and self._is_regulator(found.member) and not any(
                self._is_regulator(m) for m in self.api_keys.members_with_live_keys(besides=key_id)):
            raise Refusal(409, "LastRegulatorKey", f"{key_id} is the last live API key of an active regulator: "
                          "revoking it would lock every regulator out; issue another regulator's key first",
                          {"key_id": key_id, "member": found.member})
        key = self.api_keys.revoke(key_id, revoked_by=caller.address)
        if key is None:
            raise not_found(f"no API key {key_id}", "UnknownApiKey", key_id=key_id)
        return key
