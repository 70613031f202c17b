"""NIC extras: the security groups a standalone interface carries itself."""

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base


class NicSecurityGroup(Base):
    """A security group of one NIC (interfaces created on their own name theirs;
    a VM's own NICs follow the VM's groups)."""

    __tablename__ = "nic_security_groups"
    nic_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("nics.uuid", ondelete="CASCADE"), primary_key=True
    )
    group_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("security_groups.uuid"), primary_key=True, index=True
    )
