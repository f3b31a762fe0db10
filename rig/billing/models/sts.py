"""The STS tables: a keypad meter's identity, every token the centre issued to it, and where a
readback came from when no card carried it (migration 0013). No key is stored here: the
vending key stays with the centre's STS key service (:mod:`rig.billing.sts_keys`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rig.billing.models.base import Base, _in

STS_TOKEN_KINDS = ("credit", "power_limit", "clear_credit", "clear_tamper", "key_change")
DKGAS = ("dkga02", "dkga04")
ENCRYPTIONS = ("sta", "dea", "misty1")


class StsMeter(Base):
    """A meter that takes STS tokens: the identity its decoder key is derived from, and the
    newest token identifier (TID) issued to it, so the next token gets a later one."""

    __tablename__ = "sts_meters"
    __table_args__ = (
        CheckConstraint(_in("dkga", DKGAS), name="dkga"),
        CheckConstraint(_in("encryption", ENCRYPTIONS), name="encryption"),
        CheckConstraint("key_type >= 0 AND key_type <= 3", name="key_type"),
        CheckConstraint("key_revision >= 1 AND key_revision <= 9", name="key_revision"),
        CheckConstraint("base_date IN (1993, 2014, 2035)", name="base_date"),
    )

    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), primary_key=True)
    pan: Mapped[str] = mapped_column(String(18), unique=True)
    supply_group: Mapped[str] = mapped_column(String(6), index=True)
    tariff_index: Mapped[str] = mapped_column(String(2))
    key_revision: Mapped[int]
    key_type: Mapped[int]
    dkga: Mapped[str] = mapped_column(String(8))
    encryption: Mapped[str] = mapped_column(String(8))
    base_date: Mapped[int]
    last_tid: Mapped[int] = mapped_column(default=-1)  # -1: no token issued on this base date
    # One step of a currency token in the meter's currency (decimal text; migration 0014)
    currency_step: Mapped[str] = mapped_column(String(12), default="0.00001",
                                               server_default="0.00001")


class StsToken(Base):
    """One token as issued, so a reprint prints the very same 20 digits. The digits are a
    bearer credential for this one meter only (docs/sts.md, "Tokens kept at the centre")."""

    __tablename__ = "sts_tokens"
    __table_args__ = (
        CheckConstraint(_in("kind", STS_TOKEN_KINDS), name="kind"),
        UniqueConstraint("meter_id", "base_date", "tid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    vend_id: Mapped[int | None] = mapped_column(ForeignKey("vends.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(default=1)  # a key change set's section, 1-4
    base_date: Mapped[int]
    tid: Mapped[int | None]  # None: a key change section (it carries no TID)
    value: Mapped[str] = mapped_column(String(32))  # amount carried (decimal text) or value
    digits: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime]


class ReadbackSource(Base):
    """Where a readback without a card came from, and whether anything vouches for it: a
    keypad meter's registers read over its serial port carry no MAC."""

    __tablename__ = "readback_sources"

    readback_id: Mapped[int] = mapped_column(ForeignKey("readbacks.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(32))  # "serial" (the station read the meter)
    mac_protected: Mapped[bool]
    note: Mapped[str] = mapped_column(String(200))
