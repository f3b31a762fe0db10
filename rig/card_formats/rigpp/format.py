"""The RIGPP card format object, registered as ``rigpp`` (pyproject.toml entry points): the
reference plugin, built from rig's own card driver (``rig.card``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rig.card_formats.kinds import CardKind
from rig.errors import CardError

if TYPE_CHECKING:  # the card driver is imported where a card or meter is made: naming the
    # format (a profile's [card] section) does not load it
    from rig.card.application import CardApplication
    from rig.card.session import ApduTransport
    from rig.card.trace import ApduTrace
    from rig.card_formats.interface import (
        Attack,
        KeySource,
        MeterWallet,
        PurchaseOnCard,
        StationCardWriter,
    )
    from rig.card_formats.rigpp.meter import MeterCardTerminal
    from rig.card_formats.rigpp.station import RigppStationWriter

FORGED_PURCHASE = "forged_purchase"


class RigppFormat:
    """RIGPP: purchases, tariffs and commands MAC'd under the meter key, readbacks under the
    meter's readback key, mutual authentication with per-card keys."""

    name = "rigpp"
    description = "rig's reference CPU-card format (docs/card-spec.md)"
    readback_format = "rig-v1"  # rig.card.readback_format.RIG_V1's name
    kinds = frozenset(CardKind) - {CardKind.REPLACEMENT}  # a RIGPP card is re-issued instead
    options: Mapping[str, tuple[str, ...]] = {}

    def station_writer(self, keys: KeySource, *, trace: ApduTrace | None = None,
                       options: Mapping[str, str] | None = None) -> RigppStationWriter:
        from rig.card_formats.rigpp.station import RigppStationWriter

        return RigppStationWriter(keys.master, trace=trace)

    def meter_reader(self, wallet: MeterWallet, meter_no: str, keys: KeySource, *,
                     key_revision: int) -> MeterCardTerminal:
        """The meter 'manufactured' with its meter key and its own readback key (from the
        centre's readback key service; default: the lab test readback master)."""
        from rig.card.keys import derive_meter_key, derive_meter_readback_key, lab_readback_key
        from rig.card_formats.rigpp.meter import MeterCardTerminal

        readback_master = keys.readback_master or lab_readback_key()
        return MeterCardTerminal(
            wallet, meter_no, derive_meter_key(keys.master, meter_no, key_revision),
            readback_key=derive_meter_readback_key(readback_master, meter_no),
            key_revision=key_revision)

    def blank_card(self, options: Mapping[str, str] | None = None) -> CardApplication:
        from rig.card.application import CardApplication

        return CardApplication()

    def card_from_dict(self, data: Mapping[str, Any]) -> CardApplication:
        from rig.card.application import CardApplication

        return CardApplication.from_dict(data)

    def forged_purchase(self, writer: StationCardWriter, transport: ApduTransport,
                        genuine: PurchaseOnCard) -> None:
        """The card's purchase record with ten times the credit and its MAC left as it was:
        a writer holding the card key (it can open the card) but not the meter key."""
        from rig.card_formats.rigpp.station import RigppStationWriter

        if not isinstance(writer, RigppStationWriter):
            raise TypeError(f"{type(writer).__name__} is not a RIGPP writer")
        record = writer.raw_purchase(transport)
        if record is None or record.sequence != genuine.sequence:
            raise CardError(f"the card does not carry purchase {genuine.sequence} to forge")
        writer.write_raw_purchase(transport, replace(record, credit=record.credit * 10))

    def attacks(self) -> tuple[Attack, ...]:
        from rig.card_formats.interface import Attack

        return (Attack(FORGED_PURCHASE, True,
                       "every purchase is MAC'd under the meter key, which no writer holds"),)


RIGPP = RigppFormat()
