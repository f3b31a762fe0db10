"""The SLE 4442 memory-card format as a rig card format plugin (entry point ``sle4442``).

docs/card-formats/sle4442.md is its specification: the chip, the reader dialects, the user
card layout, the meter's rules and what a card without cryptography cannot resist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rig.card_formats.kinds import CardKind
from rig.card_formats.sle4442 import dialect_names
from rig.errors import CardError, ConfigError

if TYPE_CHECKING:  # the chip, dialects and card driver are imported where a card or meter is
    # made: naming the format (a profile's [card] section) does not load them
    from rig.card.session import ApduTransport
    from rig.card.trace import ApduTrace
    from rig.card_formats.interface import (
        Attack,
        KeySource,
        MeterWallet,
        PurchaseOnCard,
        StationCardWriter,
    )
    from rig.card_formats.sle4442.card import VirtualSLE4442
    from rig.card_formats.sle4442.reader import SLE4442MeterReader
    from rig.card_formats.sle4442.writer import SLE4442Writer


class SLE4442Format:
    name = "sle4442"
    description = ("SLE 4442 memory card (256-byte EEPROM, PSC, protection bits) as cheap "
                   "single-phase prepaid meters read it; no cryptography")
    readback_format = "sle4442-v1"
    kinds = frozenset({CardKind.USER, CardKind.PARAMETER, CardKind.CHECK, CardKind.CLEAR})
    # issue_dialect / issue_reader: the issuing writer, for a writer dialect that cannot issue
    # a card (docs/card-formats/sle4442.md, "Issuing through another writer").
    options: Mapping[str, tuple[str, ...]] = {"dialect": dialect_names.DIALECTS,
                                              "issue_dialect": dialect_names.ISSUING,
                                              "issue_reader": ()}

    def _dialect(self, options: Mapping[str, str] | None) -> str:
        from rig.card_formats.sle4442 import dialects

        unknown = set(options or {}) - set(self.options)
        if unknown:
            raise ConfigError(f"[card] options: the sle4442 format has no option "
                              f"{', '.join(sorted(unknown))} (it has: "
                              f"{', '.join(self.options)})")
        return dialects.checked((options or {}).get("dialect"))

    def station_writer(self, keys: KeySource, *, trace: ApduTrace | None = None,
                       options: Mapping[str, str] | None = None) -> SLE4442Writer:
        from rig.card_formats.sle4442.writer import SLE4442Writer

        dialect, options = self._dialect(options), options or {}
        return SLE4442Writer(keys, dialect=dialect, trace=trace,
                             issue_dialect=options.get("issue_dialect"),
                             issue_reader=options.get("issue_reader"))

    def meter_reader(self, wallet: MeterWallet, meter_no: str, keys: KeySource, *,
                     key_revision: int) -> SLE4442MeterReader:
        from rig.card.keys import derive_meter_readback_key, lab_readback_key
        from rig.card_formats.sle4442.psc import meter_psc
        from rig.card_formats.sle4442.reader import SLE4442MeterReader

        readback_master = keys.readback_master or lab_readback_key()
        return SLE4442MeterReader(
            wallet, meter_no, meter_psc(keys, meter_no, key_revision),
            readback_key=derive_meter_readback_key(readback_master, meter_no),
            key_revision=key_revision)

    def blank_card(self, options: Mapping[str, str] | None = None) -> VirtualSLE4442:
        from rig.card_formats.sle4442 import dialects
        from rig.card_formats.sle4442.card import VirtualSLE4442

        dialect = self._dialect(options)
        issue = (options or {}).get("issue_dialect")
        return VirtualSLE4442(dialect=dialect,
                              issue_dialect=None if issue is None else dialects.issuing(issue))

    def card_from_dict(self, data: Mapping[str, Any]) -> VirtualSLE4442:
        from rig.card_formats.sle4442.card import VirtualSLE4442

        return VirtualSLE4442.from_dict(data)

    def forged_purchase(self, writer: StationCardWriter, transport: ApduTransport,
                        genuine: PurchaseOnCard) -> None:
        """What a cloned writer does: it has the meter's PSC (read off any of the meter's
        cards' bus traffic, or off the meter) and writes the genuine purchase block again with
        ten times the credit and a fresh CRC. Nothing on the card can tell."""
        from rig.card_formats.sle4442 import layout
        from rig.card_formats.sle4442.writer import SLE4442Writer

        if not isinstance(writer, SLE4442Writer):
            raise CardError("forged_purchase needs the sle4442 format's own writer")
        client, identity = writer.open_card(transport)
        block = layout.PurchaseBlock.decode(client.read(layout.PURCHASE_AT, layout.BLOCK_SIZE))
        if block is None or block.sequence != genuine.sequence:
            raise CardError(f"card {identity.card_serial} does not carry purchase "
                            f"{genuine.sequence}")
        client.write(layout.PURCHASE_AT, replace(block, credit=genuine.credit * 10).to_bytes())

    def attacks(self) -> tuple[Attack, ...]:
        from rig.card_formats.interface import Attack

        return (
            Attack("forged_purchase", False,
                   "a memory card has no cryptography: whoever knows the meter's PSC writes a "
                   "purchase block with any credit and a valid CRC, and the meter cannot tell "
                   "it from the station's"),
            Attack("copied_card", False,
                   "every byte of the card is readable and a blank SLE 4442 takes any PSC: a "
                   "copy works in the meter exactly like the original"),
            Attack("forged_readback", True,
                   "the card has no keys, but the meter MACs its readback under its own "
                   "readback key: a readback written with the PSC alone does not verify at "
                   "the centre"),
            Attack("replayed_purchase", True,
                   "the meter adds credit only for purchase count = its last + 1: the same "
                   "purchase again (from the card or a copy) adds nothing"),
            Attack("card_for_another_meter", True,
                   "the identity block names the meter, and only the meter's PSC re-issues it; "
                   "the meter refuses a card naming another meter (before presenting its PSC)"),
        )


SLE4442 = SLE4442Format()
