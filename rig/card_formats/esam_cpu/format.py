"""The esam-cpu format as a rig card format plugin (entry point ``esam-cpu``).

docs/card-formats/esam-cpu.md is its specification: the card's files and commands, the
office's key service, the meter's rules with its ESAM, the behaviour table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rig.card_formats.kinds import CardKind
from rig.errors import CardError, ConfigError

if TYPE_CHECKING:  # the card, the ESAM and their cryptography are imported where a card or
    # meter is made: naming the format (a profile's [card] section) does not load them
    from rig.card.session import ApduTransport
    from rig.card.trace import ApduTrace
    from rig.card_formats.esam_cpu.card import VirtualEsamCpuCard
    from rig.card_formats.esam_cpu.reader import EsamCpuMeterReader
    from rig.card_formats.esam_cpu.writer import EsamCpuWriter
    from rig.card_formats.interface import (
        Attack,
        KeySource,
        MeterWallet,
        PurchaseOnCard,
        StationCardWriter,
    )

CRYPTO_NOTE = "SM4 in place of SM1 (docs/esam.md)"


class EsamCpuFormat:
    name = "esam-cpu"
    key_revisions = range(2)  # 0: the public key state, 1: the private one (docs/esam.md)
    description = ("ISO 7816 CPU user card read by a meter with an ESAM (State Grid style: "
                   "mutual authentication, MACs, return-write file); SM4 in place of SM1")
    readback_format = "esam-cpu-v1"
    kinds = frozenset({CardKind.USER, CardKind.REPLACEMENT, CardKind.PARAMETER,
                       CardKind.CHECK, CardKind.CLEAR, CardKind.KEY_CHANGE})
    options: Mapping[str, tuple[str, ...]] = {}
    record_note = CRYPTO_NOTE

    def station_writer(self, keys: KeySource, *, trace: ApduTrace | None = None,
                       options: Mapping[str, str] | None = None) -> EsamCpuWriter:
        from rig.card_formats.esam_cpu.writer import EsamCpuWriter

        return EsamCpuWriter(keys, trace=trace)

    def meter_reader(self, wallet: MeterWallet, meter_no: str, keys: KeySource, *,
                     key_revision: int) -> EsamCpuMeterReader:
        """The meter's slot with its ESAM (``keys.secure_module``, from the profile's
        ``[esam]``) and its own readback key (default: the lab test readback master)."""
        from rig.card.keys import derive_meter_readback_key, lab_readback_key
        from rig.card_formats.esam_cpu import layout
        from rig.card_formats.esam_cpu.reader import EsamCpuMeterReader

        esam = getattr(keys, "secure_module", None)
        if esam is None:
            raise ConfigError(f"meter {meter_no}: [card] format 'esam-cpu' needs the meter's "
                              "ESAM: add an [esam] section to the profile (docs/esam.md)")
        if layout.key_state_of(key_revision) is not esam.key_state:
            raise ConfigError(
                f"meter {meter_no}: [card] key_revision {key_revision} is the "
                f"{layout.key_state_of(key_revision).value} key state, but [esam] key_state "
                f"is {esam.key_state.value} (esam-cpu: key revision 0 = public, else private)")
        readback_master = keys.readback_master or lab_readback_key()
        return EsamCpuMeterReader(wallet, meter_no, esam,
                                  readback_key=derive_meter_readback_key(readback_master,
                                                                         meter_no))

    def blank_card(self, options: Mapping[str, str] | None = None) -> VirtualEsamCpuCard:
        from rig.card_formats.esam_cpu.card import VirtualEsamCpuCard

        return VirtualEsamCpuCard()

    def card_from_dict(self, data: Mapping[str, Any]) -> VirtualEsamCpuCard:
        from rig.card_formats.esam_cpu.card import VirtualEsamCpuCard

        return VirtualEsamCpuCard.from_dict(data)

    def forged_purchase(self, writer: StationCardWriter, transport: ApduTransport,
                        genuine: PurchaseOnCard) -> None:
        """A writer that can open the card's files (it holds ``card-external``) but not the
        office's ``card-purchase`` key: the genuine file with ten times the credit and the
        office's MAC left as it was."""
        from rig.card_formats.esam_cpu.writer import EsamCpuWriter

        if not isinstance(writer, EsamCpuWriter):
            raise CardError("forged_purchase needs the esam-cpu format's own writer")
        _, serial, info = writer.open(transport)
        if info is None or info.purchase_count != genuine.sequence:
            raise CardError(f"card {serial} does not carry purchase {genuine.sequence}")
        writer.write_raw_info(transport, replace(info, credit=info.credit * 10))

    def attacks(self) -> tuple[Attack, ...]:
        from rig.card_formats.interface import Attack

        return (
            Attack("forged_purchase", True,
                   "the card-information file carries the office's MAC under card-purchase, "
                   "which the meter's ESAM checks; no card holds that key"),
            Attack("copied_card", True,
                   "a copy of the readable files lacks the card's keys: the ESAM's internal "
                   "authentication refuses it"),
            Attack("replayed_purchase", True,
                   "the ESAM credits only purchase count = its own + 1"),
            Attack("card_for_another_meter", True,
                   "the card information names the meter, under the office's MAC"),
            Attack("forged_readback", True,
                   "only the meter's ESAM can write the return-write file (UPDATE BINARY "
                   "with its card-return MAC), and the record carries the meter's readback "
                   "MAC"),
        )


ESAM_CPU = EsamCpuFormat()
