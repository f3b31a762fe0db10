"""A protocol-neutral meter client: the semantic reads scenarios need, for any profile.

`open_meter(profile, port)` opens the profile's protocol (DL/T 645-2007 or IEC 62056-21 mode
C) with its serial settings and register map, and answers in the profile's credit unit with
exact Decimals. Scenarios never name a data identifier or an OBIS code; the protocol client
stays reachable as `.protocol` for protocol-specific tests. The client knows a profile only as
a :class:`MeterModel` (its protocol table and register map): the driver layer does not import
``rig.profile``, which sits above it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Generic, Protocol, TypeVar

from rig.errors import ProtocolError
from rig.meter.card_errors import CardErrorCode
from rig.meter.dlt645 import data_ids as di
from rig.meter.dlt645.client import Dlt645Client, MeterAbnormalReply
from rig.meter.dlt645.frame import ERR_NO_DATA
from rig.meter.iec62056 import Iec62056Client
from rig.meter.iec62056 import status as iec_status
from rig.meter.iec62056.frames import DataSet
from rig.meter.protocol_settings import SerialSettings, Strict
from rig.meter.protocols import MeterProtocol
from rig.meter.transcript import Transcript

# The IEC reference meter's status bits under the names scenarios use (one definition:
# rig.meter.iec62056.status).
IEC_RELAY_OPEN, IEC_ALARM1 = iec_status.ST_RELAY_OPEN, iec_status.ST_ALARM1
IEC_ALARM2, IEC_EMERGENCY = iec_status.ST_ALARM2, iec_status.ST_EMERGENCY
IEC_FRIENDLY, IEC_POWER_TRIP = iec_status.ST_FRIENDLY, iec_status.ST_POWER_TRIP


class ProtocolTable(Protocol):
    """A meter's protocol as a profile's ``[protocol]`` table gives it."""

    @property
    def address(self) -> str: ...
    @property
    def serial(self) -> SerialSettings: ...
    @property
    def spec(self) -> MeterProtocol: ...
    @property
    def own_settings(self) -> Strict: ...


class MeterModel(Protocol):
    """What the client reads of a meter profile (``rig.profile.MeterProfile`` is one): its
    protocol and its register map (quantity → data identifier or OBIS code)."""

    @property
    def protocol(self) -> ProtocolTable: ...
    @property
    def register_map(self) -> dict[str, str]: ...


M = TypeVar("M", bound=MeterModel)


@dataclass(frozen=True)
class StatusReading:
    """What the meter says about itself; None where its protocol cannot tell."""

    relay_open: bool
    alarm1: bool | None
    alarm2: bool | None  # pre-trip alarm
    emergency_active: bool | None
    friendly_period: bool | None
    power_trip: bool | None
    word: int  # the raw status word, for the report


@dataclass(frozen=True)
class EventCounts:
    """The meter's event counters as it reports them over its protocol."""

    power_downs: int
    tamper: int  # terminal cover openings


@dataclass(frozen=True)
class CardRefusals:
    """Refused card insertions as the meter reports them; None where its protocol (or the
    profile's register map) cannot tell."""

    count: int  # every refused insertion (DL/T 645: abnormal card insertions)
    last_at: datetime | None  # the last one, meter clock with `tz`; None if none yet
    last_reason: CardErrorCode | int | None  # its card error code (an int if not a known one)
    illegal: int | None  # the refusals the meter counts as illegal insertions
    last_record: di.AbnormalCardRecord | None = None  # DL/T 645: the whole last record


class MeterClient(ABC, Generic[M]):
    """Semantic reads of one meter; a context manager that closes the port."""

    def __init__(self, profile: M, transcript: Transcript, tz: tzinfo | None) -> None:
        self.profile = profile
        self.transcript = transcript
        self.tz = tz
        self.registers = profile.register_map

    @abstractmethod
    def read_address(self) -> str: ...

    @abstractmethod
    def _decimal(self, quantity: str) -> Decimal:
        """The register map's ``quantity`` read as a number, however the protocol carries it."""

    def remaining_credit(self) -> Decimal:
        """Remaining credit in the profile's unit (money, or kWh)."""
        return self._decimal("remaining_credit")

    def overdraft(self) -> Decimal:
        return self._decimal("overdraft")

    def energy_kwh(self) -> Decimal:
        return self._decimal("energy_total")

    def purchase_count(self) -> int:
        """Purchases the meter applied (a keypad meter: tokens it accepted)."""
        return int(self._decimal("purchase_count"))

    def cumulative_purchase(self) -> Decimal:
        """Credit purchased in total, in the profile's unit."""
        return self._decimal("cumulative_purchase")

    @abstractmethod
    def status(self) -> StatusReading: ...

    @abstractmethod
    def last_cutoff_time(self) -> datetime | None:
        """When the relay last opened for lack of credit (meter clock, `tz` attached)."""

    @abstractmethod
    def event_counts(self) -> EventCounts:
        """Power-down and tamper (cover-open) counters."""

    @abstractmethod
    def card_refusals(self) -> CardRefusals:
        """How many cards the meter refused, and when and why the last one."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> MeterClient[M]:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _stamp(self, moment: datetime) -> datetime:
        return moment.replace(tzinfo=self.tz) if self.tz is not None else moment


class Dlt645MeterClient(MeterClient[M]):
    def __init__(self, profile: M, protocol: Dlt645Client, transcript: Transcript,
                 tz: tzinfo | None) -> None:
        super().__init__(profile, transcript, tz)
        self.protocol = protocol

    def _di(self, quantity: str) -> int:
        return int(self.registers[quantity], 16)

    def _decimal(self, quantity: str) -> Decimal:
        return Decimal(self.protocol.read(self._di(quantity)))

    def read_address(self) -> str:
        return self.protocol.read_address()

    def status(self) -> StatusReading:
        word = int(self.protocol.read(self._di("status")))
        return StatusReading(  # status word 3 has no alarm-1 bit: compare remaining credit
            relay_open=bool(word & di.SW3_RELAY_OPEN), alarm1=None,
            alarm2=bool(word & di.SW3_PRE_TRIP_ALARM), emergency_active=None,
            friendly_period=None, power_trip=None, word=word)

    def last_cutoff_time(self) -> datetime | None:
        try:
            raw = self.protocol.read(self._di("last_cutoff"))
        except MeterAbnormalReply as e:
            if e.error_word & ERR_NO_DATA:
                return None  # the meter has no trip record yet
            raise
        text = str(raw)
        if set(text) <= {"0"}:
            return None
        return self._stamp(di.to_datetime(text))

    def event_counts(self) -> EventCounts:
        return EventCounts(power_downs=int(self.protocol.read(self._di("power_down_count"))),
                           tamper=int(self.protocol.read(self._di("tamper_count"))))

    def _count(self, quantity: str) -> int:
        value = self.protocol.read(self._di(quantity))
        if not isinstance(value, int):
            raise ProtocolError(f"meter {self.profile.protocol.address}: {quantity} "
                                f"({self.registers[quantity]}) is not a count: {value!r}")
        return value

    def card_refusals(self) -> CardRefusals:
        count = self._count("card_refusal_count")
        illegal = self._count("illegal_card_count") if "illegal_card_count" in self.registers \
            else None
        record = self._last_card_record() if count else None
        if record is None:
            return CardRefusals(count, None, None, illegal)
        occurred = record.occurred
        assert occurred is not None  # _last_card_record drops empty slots
        reason = record.reason if record.reason is not None else record.error
        return CardRefusals(count, self._stamp(occurred), reason, illegal, record)

    def _last_card_record(self) -> di.AbnormalCardRecord | None:
        """The newest abnormal card record; None if the meter has none (no data, or a slot
        that was never written: all zeros)."""
        try:
            value = self.protocol.read(self._di("last_card_refusal"))
        except MeterAbnormalReply as e:
            if e.error_word & ERR_NO_DATA:
                return None
            raise
        if not isinstance(value, di.AbnormalCardRecord):
            raise ProtocolError(f"meter {self.profile.protocol.address}: last_card_refusal "
                                f"({self.registers['last_card_refusal']}) is not an abnormal "
                                f"card record: {value!r}")
        return value if value.occurred is not None else None

    def close(self) -> None:
        self.protocol.close()


class IecMeterClient(MeterClient[M]):
    """Each read takes a fresh mode C readout: the meter's registers at that instant."""

    def __init__(self, profile: M, protocol: Iec62056Client, transcript: Transcript,
                 tz: tzinfo | None) -> None:
        super().__init__(profile, transcript, tz)
        self.protocol = protocol

    def readout(self) -> dict[str, DataSet]:
        return self.protocol.readout()

    def _get(self, quantity: str, data: dict[str, DataSet] | None = None) -> DataSet:
        data = data if data is not None else self.readout()
        code = self.registers[quantity]
        if code not in data:
            raise ProtocolError(f"readout of meter {self.profile.protocol.address} has no "
                                f"{quantity} ({code})")
        return data[code]

    def _decimal(self, quantity: str) -> Decimal:
        ds = self._get(quantity)
        try:
            return Decimal(ds.value)
        except InvalidOperation:
            raise ProtocolError(f"meter {self.profile.protocol.address}: {quantity} "
                                f"{ds} is not a number") from None

    def read_address(self) -> str:
        return self._get("address").value

    def status(self) -> StatusReading:
        ds = self._get("status")
        try:
            word = int(ds.value, 16)
        except ValueError:
            raise ProtocolError(f"meter {self.profile.protocol.address}: status {ds} is not "
                                "a hex word") from None
        return StatusReading(
            relay_open=bool(word & IEC_RELAY_OPEN), alarm1=bool(word & IEC_ALARM1),
            alarm2=bool(word & IEC_ALARM2), emergency_active=bool(word & IEC_EMERGENCY),
            friendly_period=bool(word & IEC_FRIENDLY), power_trip=bool(word & IEC_POWER_TRIP),
            word=word)

    def _time(self, quantity: str, data: dict[str, DataSet] | None = None) -> datetime | None:
        """A YYMMDDhhmmss value; None if empty or all zeros (the event never happened)."""
        value = self._get(quantity, data).value
        if not value.strip("0"):
            return None
        try:
            return self._stamp(datetime.strptime(value, "%y%m%d%H%M%S"))
        except ValueError:
            raise ProtocolError(f"meter {self.profile.protocol.address}: {quantity} "
                                f"{value!r} is not YYMMDDhhmmss") from None

    def _count(self, quantity: str, data: dict[str, DataSet]) -> int:
        ds = self._get(quantity, data)
        if not ds.value.isdigit():
            raise ProtocolError(f"meter {self.profile.protocol.address}: {quantity} {ds} "
                                "is not a count")
        return int(ds.value)

    def last_cutoff_time(self) -> datetime | None:
        return self._time("last_cutoff")

    def event_counts(self) -> EventCounts:
        data = self.readout()
        return EventCounts(self._count("power_down_count", data),
                           self._count("tamper_count", data))

    def card_refusals(self) -> CardRefusals:
        """Count, time and (where the register map has `last_card_refusal_reason`) the card
        error code of the last refusal, from one readout."""
        data = self.readout()
        illegal = self._count("illegal_card_count", data) \
            if "illegal_card_count" in self.registers else None
        reason = self._reason(data) if "last_card_refusal_reason" in self.registers else None
        return CardRefusals(self._count("card_refusal_count", data),
                            self._time("last_card_refusal", data), reason, illegal)

    def _reason(self, data: dict[str, DataSet]) -> CardErrorCode | int | None:
        """A card error code (rig.meter.card_errors); None if empty (no refusal yet)."""
        value = self._get("last_card_refusal_reason", data).value
        if not value:
            return None
        if not value.isdigit():
            raise ProtocolError(f"meter {self.profile.protocol.address}: "
                                f"last_card_refusal_reason {value!r} is not a card error code")
        try:
            return CardErrorCode(int(value))
        except ValueError:  # a code of the maker's own: reported as the number
            return int(value)

    def close(self) -> None:
        self.protocol.close()


def open_meter(
    profile: M,
    port: str,
    *,
    transcript: Transcript | None = None,
    parity: str | None = None,
    timeout_s: float | None = None,
    retries: int | None = None,
    tz: tzinfo | None = None,
) -> MeterClient[M]:
    """Open `port` (device path or pyserial URL) as the profile's meter.

    `parity` overrides the profile's (give "N" for a pty: an IEC client then puts the 7E1
    parity bit in software); `timeout_s` and `retries` override the profile's for a bench
    whose line is slower or noisier. `tz` is attached to the meter's clock times.
    """
    transcript = transcript if transcript is not None else Transcript()
    protocol = profile.protocol
    s = protocol.serial
    raw = protocol.spec.connect(
        port, s, protocol.own_settings, protocol.address,
        parity=parity or s.parity, timeout=s.timeout_s if timeout_s is None else timeout_s,
        retries=s.retries if retries is None else retries, transcript=transcript)
    if isinstance(raw, Dlt645Client):
        return Dlt645MeterClient(profile, raw, transcript, tz)
    if isinstance(raw, Iec62056Client):
        return IecMeterClient(profile, raw, transcript, tz)
    raw.close()
    raise ProtocolError(f"meter {protocol.address}: no semantic reads for a "
                        f"{type(raw).__name__} ({protocol.spec.title})")
