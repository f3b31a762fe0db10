"""What a card format provides, in format-neutral terms (docs/card-formats.md).

Three parties use a format, each through one narrow protocol:

- the vending station (``rig.station``): a :class:`StationCardWriter` that issues cards,
  writes purchases, parameter, clear/test and key-change cards and reads readbacks, speaking
  only the neutral values below (the centre's decisions in, the card's data out);
- the meter (the emulated firmware in ``rig.sim``, and the certification suite through it): a
  :class:`MeterCardReader` that runs one insertion against the meter's :class:`MeterWallet`
  with the format's own rules and refusal codes, and keeps its state across power cycles;
- the emulated bench: a :class:`VirtualCardApp` that answers exactly the format's commands
  (through vpcd for the writer, in-process for the meter's slot).

Amounts are integer card units (cents or Wh, ``credit_unit`` names which), never floats. Keys
come from a :class:`KeySource`; a format derives its own keys from it and never logs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from rig.card_formats.kinds import CardKind

if TYPE_CHECKING:  # a format's module imports the card driver where it talks to a card
    from rig.card.session import ApduTransport
    from rig.card.trace import ApduTrace

MONEY_CENTS = "money_cents"
ENERGY_WH = "energy_wh"


@dataclass(frozen=True)
class IssuedCard:
    """A card's identity as the format stores it."""

    card_serial: str  # upper-case hex
    meter_no: str
    kind: CardKind
    key_revision: int


@dataclass(frozen=True)
class Purchase:
    """One vend as the centre decided it, to be written onto a user card."""

    meter_no: str
    card_serial: str
    sequence: int  # the meter applies a purchase whose sequence is new, once
    credit: int  # card units (credit_unit)
    credit_unit: str  # MONEY_CENTS or ENERGY_WH
    tariff_version: int
    price_per_kwh: Decimal
    key_revision: int
    alarm1: int = 0  # alarm levels queued for the meter with this vend; 0 = keep the meter's
    alarm2: int = 0


@dataclass(frozen=True)
class PurchaseOnCard:
    """The purchase a card carries now, as the format decodes it (not yet applied)."""

    meter_no: str
    sequence: int
    credit: int
    credit_unit: str


@dataclass(frozen=True)
class FriendlyPeriod:
    start_hour: int  # 0..23
    end_hour: int  # start+1..24
    weekdays: int  # bit0 Monday .. bit6 Sunday


@dataclass(frozen=True)
class TariffRate:
    start_minute: int  # 0..1439
    price_per_kwh: Decimal


@dataclass(frozen=True)
class ParameterSet:
    """A parameter card's content, in card units. ``version`` increases with each set; a meter
    applies a set newer than the one it holds."""

    meter_no: str
    version: int
    key_revision: int
    alarm1: int
    alarm2: int
    overdraft_limit: int
    hoarding_limit: int  # 0 = none
    power_limit_w: int
    friendly_periods: tuple[FriendlyPeriod, ...] = ()
    tariff_version: int = 0
    tariff_rates: tuple[TariffRate, ...] = ()


@dataclass(frozen=True)
class ClearCommand:
    meter_no: str
    clear_no: int  # increases with each clear; a meter applies a newer one once
    key_revision: int
    test_only: bool = False  # a test card: the meter shows its state and changes nothing


@dataclass(frozen=True)
class CardReadback:
    """The meter's usage data a card brings back. ``raw`` is the record exactly as the
    centre's readback format (``rig.readback_formats``) decodes and verifies it; ``fields`` its
    decoded values, named as ``rig.billing.types.ReadbackData`` names them (not verified: the
    centre checks integrity on upload)."""

    card_serial: str
    raw: bytes
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class CardRefusal:
    """Why a meter refused a card, as its abnormal card insertion record keeps it: a State Grid
    card error code (``rig.meter.card_errors.CardErrorCode``), the card's serial, and the
    header and status word of the card command that failed (zeros when the refusal was the
    meter's own check)."""

    code: int
    card_serial: str = "0" * 16
    command_header: bytes = bytes(5)
    status_word: int = 0


@dataclass(frozen=True)
class InsertionOutcome:
    """What the meter's display says after a card insertion."""

    accepted: bool
    applied_sequence: int | None
    message: str
    card_type: str = ""  # the CardKind value of the card read ("" if unreadable)
    parameters: dict[str, Any] | None = None  # a parameter card's set, as the meter recorded it
    refusal: CardRefusal | None = None  # set when the meter refused the card

    def to_dict(self) -> dict[str, object]:
        return {
            "accepted": self.accepted,
            "applied_sequence": self.applied_sequence,
            "message": self.message,
            "card_type": self.card_type,
            "parameters": self.parameters,
            "refusal_code": None if self.refusal is None else int(self.refusal.code),
        }


class KeySource(Protocol):
    """Where a format's keys come from: the lab's master keys, or a hardware key store behind
    the same attributes. Formats derive per-card/per-meter keys from these and never put
    them (or anything derived) into a trace, log or record."""

    @property
    def master(self) -> Any: ...  # the issuer's master key (rig.card.keys.MasterKey for rig's)

    @property
    def readback_master(self) -> Any: ...  # the centre's readback master (meters only)

    @property
    def secure_module(self) -> Any: ...  # the meter's ESAM (rig.esam.esam.Esam), if it has one


@dataclass(frozen=True)
class MasterKeys:
    """The plain :class:`KeySource`: master keys loaded from files or the environment, and on
    a meter with an ESAM (profile ``[esam]``) that module, which holds the meter's keys."""

    master: Any
    readback_master: Any = None
    secure_module: Any = None


class StationCardWriter(Protocol):
    """The vending station's side of a format. Every method takes the transport of the card
    in the writer (a PC/SC connection, or an in-process one in tests) and raises
    ``rig.errors.CardError`` naming the card and what is wrong."""

    def personalise(self, transport: ApduTransport, *, card_serial: str, meter_no: str,
                    key_revision: int, kind: CardKind = CardKind.USER) -> IssuedCard: ...

    def identify(self, transport: ApduTransport) -> IssuedCard: ...

    def write_purchase(self, transport: ApduTransport, purchase: Purchase) -> PurchaseOnCard:
        """Write ``purchase`` and read it back. Refuses (CardError) to overwrite a purchase the
        meter has not applied, or to write one the meter has moved past; rewriting the same
        purchase after a torn write is allowed."""

    def read_purchase(self, transport: ApduTransport) -> PurchaseOnCard | None: ...

    def write_parameters(self, transport: ApduTransport, parameters: ParameterSet) -> None: ...

    def write_clear(self, transport: ApduTransport, command: ClearCommand) -> None: ...

    def write_key_change(self, transport: ApduTransport, meter_no: str, old_revision: int,
                         new_revision: int) -> None: ...

    def read_readback(self, transport: ApduTransport) -> CardReadback:
        """The card's newest readback (CardError if it carries none yet)."""


class MeterWallet(Protocol):
    """The meter registers a card reader may read and change (rig.sim.prepaid.PrepaidEngine
    satisfies it). Levels are Decimals in the meter's unit; ``units``/``from_units`` convert
    to and from integer card units."""

    last_sequence: int
    purchase_count: int
    tariff_version: int

    @property
    def credit_unit(self) -> str: ...  # MONEY_CENTS or ENERGY_WH

    def units(self, value: Decimal) -> int: ...

    def from_units(self, units: int) -> Decimal: ...

    def would_hoard(self, credit_units: int) -> bool: ...

    def apply_purchase(self, sequence: int, credit_units: int, now: datetime) -> None: ...

    def apply_tariff(self, version: int, price_per_kwh: Decimal) -> bool: ...

    def thresholds_with(self, **levels: Decimal) -> Any:
        """Raises ValueError naming the level if the meter's rules refuse these levels."""

    def set_thresholds(self, **levels: Decimal) -> None: ...

    def clear_events(self) -> None: ...

    def readback_values(self, at: datetime) -> dict[str, Any]:
        """The usage data a readback carries, named as ``ReadbackData`` names its fields."""


class MeterCardReader(Protocol):
    """The meter's side of a format: one card slot of one meter. ``insert`` checks everything
    before it changes anything (a refused or pulled card leaves every register as it was),
    applies, then writes the readback."""

    key_revision: int

    def insert(self, transport: ApduTransport, now: datetime) -> InsertionOutcome: ...

    def nvm_state(self) -> dict[str, Any]:
        """What this reader keeps across power cycles, as JSON values (keys hex-encoded:
        the NVM image never leaves the emulated meter)."""

    def restore_nvm_state(self, state: Mapping[str, Any]) -> None: ...


@runtime_checkable
class VirtualCardApp(Protocol):
    """A card on the emulated bench: power/reset, one command in, one response out, and its
    contents as JSON (a card survives a ``rig sim`` restart)."""

    atr: bytes

    def reset(self) -> None: ...

    def process(self, apdu: bytes) -> bytes: ...

    def to_dict(self) -> dict[str, Any]: ...


def meter_slot(card: VirtualCardApp) -> ApduTransport | None:
    """The transport a meter's card slot talks to ``card`` through, if the card has its own
    (a memory card's chip bus: a meter does not go through a PC/SC reader); None means the
    meter sends the same commands a writer does. A card offers one with ``meter_slot()``."""
    own = getattr(card, "meter_slot", None)
    return own() if callable(own) else None


def key_revisions(fmt: object) -> range:
    """The key revisions a format's cards and meters tell apart: a format offers its own
    range as ``key_revisions`` (an ESAM's two key states are revisions 0 and 1); the default
    is every revision a byte holds."""
    own = getattr(fmt, "key_revisions", None)
    return own if isinstance(own, range) else range(256)


@dataclass(frozen=True)
class Attack:
    """An attack the certification suite tries with this format's cards, and whether the
    format's meter must resist it (a memory card has no cryptography: a copied card works,
    and the format's docs say so)."""

    name: str
    resisted: bool
    why: str


class CardFormat(Protocol):
    """One card format, as registered under the ``rig.card_formats`` entry point group."""

    name: str  # the profile's [card] format value
    description: str
    readback_format: str  # the name of its rig.readback_formats entry (the centre reads it)
    kinds: frozenset[CardKind]  # the card kinds it has
    options: Mapping[str, tuple[str, ...]]  # e.g. {"dialect": ("acs", "omnikey")}: first = default

    def station_writer(self, keys: KeySource, *, trace: ApduTrace | None = None,
                       options: Mapping[str, str] | None = None) -> StationCardWriter: ...

    def meter_reader(self, wallet: MeterWallet, meter_no: str, keys: KeySource, *,
                     key_revision: int) -> MeterCardReader: ...

    def blank_card(self, options: Mapping[str, str] | None = None) -> VirtualCardApp: ...

    def card_from_dict(self, data: Mapping[str, Any]) -> VirtualCardApp: ...

    def forged_purchase(self, writer: StationCardWriter, transport: ApduTransport,
                        genuine: PurchaseOnCard) -> None:
        """Put on the card what a cloned writer without the meter's secrets could: the genuine
        purchase with ten times the credit. The suite expects a refusal if the format's
        ``attacks()`` says it resists "forged_purchase"."""

    def attacks(self) -> tuple[Attack, ...]: ...


__all__ = [
    "ENERGY_WH", "MONEY_CENTS", "Attack", "CardFormat", "CardKind", "CardReadback",
    "CardRefusal", "ClearCommand", "FriendlyPeriod", "InsertionOutcome", "IssuedCard",
    "KeySource", "MasterKeys", "MeterCardReader", "MeterWallet", "ParameterSet", "Purchase",
    "PurchaseOnCard", "StationCardWriter", "TariffRate", "VirtualCardApp",
]
