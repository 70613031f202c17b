"""Who is calling: the authenticated user and the account it acts for."""

from __future__ import annotations

from dataclasses import dataclass

from engine.states import Role


@dataclass(frozen=True)
class Principal:
    user_uuid: str
    user_name: str
    account_uuid: str
    account_name: str
    account_number: str
    domain_uuid: str
    domain_path: str
    role: Role

    @property
    def is_root_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_domain_admin(self) -> bool:
        return self.role is Role.DOMAIN_ADMIN


SYSTEM = Principal(
    user_uuid="",
    user_name="system",
    account_uuid="",
    account_name="system",
    account_number="000000000000",
    domain_uuid="",
    domain_path="/",
    role=Role.ADMIN,
)
