"""The meter protocols rig speaks, in one registry: what a profile's ``protocol.kind`` means.

Each entry says everything the rest of rig asks about a protocol: its wire format (which
codec, client and responder carry it), the profile fields it takes (address rule, settings
table, default register map, how a register identifier is checked), how the rig opens a
client on a port and how an emulated meter answers. Nothing else compares kind strings; a
new protocol on an existing wire (say a DL/T 645 remote-prepayment variant) is one entry.

The registry names its codecs, clients and responders and imports them when a client is
opened or a meter answers: validating a profile (`rig profiles`) reads only the entries.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from rig.meter.protocol_settings import Dlt645Settings, Iec62056Settings, SerialSettings, Strict

if TYPE_CHECKING:
    from rig.meter.dlt645.server import Dlt645Responder, RegisterBank
    from rig.meter.iec62056.server import DataBank, Iec62056Responder
    from rig.meter.serial_client import SerialClient
    from rig.meter.transcript import Transcript


class Wire(StrEnum):
    """A frame format on the line: the codec, client and responder that carry it."""

    DLT645 = "dlt645"  # DL/T 645-2007 frames (rig.meter.dlt645)
    IEC62056 = "iec62056"  # IEC 62056-21 mode C messages (rig.meter.iec62056)


class Connect(Protocol):
    """Open the protocol's client on `port` with the profile's line and access settings."""

    def __call__(self, port: str, serial: SerialSettings, settings: Any, address: str, *,
                 parity: str, timeout: float, retries: int,
                 transcript: Transcript) -> SerialClient: ...


@dataclass(frozen=True)
class MeterProtocol:
    kind: str  # the profile's protocol.kind
    title: str  # as a report or an error names it
    wire: Wire
    settings_key: str  # the profile's [protocol.<key>] table
    settings: type[Strict]  # that table's model (its defaults when the table is left out)
    address: re.Pattern[str]  # a valid protocol.address
    address_rule: str  # the error when it is not
    registers: Callable[[bool], Mapping[str, str]]  # default map, given "credit is money"
    check_register: Callable[[str, str], None]  # (quantity, code) -> ValueError if wrong
    register_code: Callable[[str], str]  # an identifier as the map keeps it
    check_settings: Callable[[SerialSettings, Any], None]  # (serial, own settings) -> ValueError
    client_class: str  # "module:Class" of its client, imported on first use (`client`)
    connect: Connect
    responder: Callable[..., Any]  # (address, bank, serial, settings) -> the meter's side

    @property
    def client(self) -> type[SerialClient]:
        """The protocol's client class (its module is imported here, not with the registry)."""
        module, _, name = self.client_class.partition(":")
        client: type[SerialClient] = getattr(importlib.import_module(module), name)
        return client


# -- DL/T 645-2007 ---------------------------------------------------------------------------
_DLT645_DEFAULTS: dict[str, str] = {
    "address": "04000401", "energy_total": "00000000", "status": "04000503",
    "last_cutoff": "1D000101", "voltage": "02010100", "current": "02020100",
    "power": "02030000", "clock": "04000102",
    "power_down_count": "03110000", "tamper_count": "03300D00",
    "card_refusal_count": "03301300", "last_card_refusal": "03301301",
    "illegal_card_count": "03301400",
}
_DLT645_MONEY = {"remaining_credit": "00900200", "overdraft": "00900201",
                 "purchase_count": "03330201", "cumulative_purchase": "03330601"}
_DLT645_ENERGY = {"remaining_credit": "00900100", "overdraft": "00900101",
                  "purchase_count": "03320201", "cumulative_purchase": "03320601"}


def _dlt645_registers(money: bool) -> dict[str, str]:
    return {**_DLT645_DEFAULTS, **(_DLT645_MONEY if money else _DLT645_ENERGY)}


def _check_data_id(quantity: str, code: str) -> None:
    from rig.meter.dlt645 import data_ids

    if not re.fullmatch(r"[0-9A-Fa-f]{8}", code):
        raise ValueError(f"{quantity}: {code!r} is not an 8-hex-digit DL/T 645 data "
                         "identifier")
    if int(code, 16) not in data_ids.REGISTRY:
        raise ValueError(f"{quantity}: data identifier {code.upper()} is not one rig can "
                         "decode (see docs/protocols.md)")
    is_record = data_ids.lookup(int(code, 16)).kind is data_ids.Kind.CARD_RECORD
    if is_record != (quantity == "last_card_refusal"):
        raise ValueError(f"{quantity}: data identifier {code.upper()} is "
                         f"{'an' if is_record else 'not an'} abnormal card insertion "
                         "record (last_card_refusal must be one, nothing else may)")


def _no_check(serial: SerialSettings, settings: Any) -> None:
    """Every combination of valid line and access settings is a valid meter."""


def _open_dlt645(port: str, serial: SerialSettings, settings: Any, address: str, *,
                 parity: str, timeout: float, retries: int,
                 transcript: Transcript) -> SerialClient:
    from rig.meter.dlt645.client import Dlt645Client

    return Dlt645Client.open(
        port, baudrate=serial.baudrate, bytesize=8 if parity == "N" else serial.bytesize,
        parity=parity, stopbits=serial.stopbits, address=address, timeout=timeout,
        retries=retries, transcript=transcript)


def _dlt645_responder(address: str, bank: RegisterBank, serial: SerialSettings,
                      settings: Dlt645Settings) -> Dlt645Responder:
    from rig.meter.dlt645.server import Dlt645Responder

    return Dlt645Responder(address, bank)


# -- IEC 62056-21 mode C ---------------------------------------------------------------------
# Readout identifiers (reduced OBIS, C.x.y = 96.x.y; 96.50..96.99 are manufacturer specific,
# which is where prepayment registers live in mode C readouts).
_IEC_DEFAULTS: dict[str, str] = {
    "address": "0.0.0", "energy_total": "1.8.0", "remaining_credit": "C.50.1",
    "overdraft": "C.50.2", "emergency_credit": "C.50.3", "purchase_count": "C.51.1",
    "cumulative_purchase": "C.51.2", "status": "C.5.0", "last_cutoff": "C.52.1",
    "voltage": "32.7.0", "current": "31.7.0", "power": "1.7.0", "clock": "0.9.1",
    "power_down_count": "C.7.0", "tamper_count": "C.54.1",
    "card_refusal_count": "C.55.1", "last_card_refusal": "C.55.2",
    "last_card_refusal_reason": "C.55.3",
}  # no illegal_card_count: a mode C readout of the reference model has none
_OBIS = re.compile(r"(\d{1,3}-\d{1,3}:)?([0-9]{1,3}|[A-Z])\.[0-9]{1,3}(\.[0-9]{1,3})?(\*\d{1,3})?")


def _check_obis(quantity: str, code: str) -> None:
    if not _OBIS.fullmatch(code):
        raise ValueError(f"{quantity}: {code!r} is not an OBIS code "
                         "(e.g. 1.8.0, C.50.1, 1-0:1.8.0*255)")


def _check_iec62056(serial: SerialSettings, settings: Any) -> None:
    if settings.max_baudrate < serial.baudrate:
        raise ValueError("iec62056.max_baudrate is below the sign-on serial.baudrate")


def _open_iec62056(port: str, serial: SerialSettings, settings: Any, address: str, *,
                   parity: str, timeout: float, retries: int,
                   transcript: Transcript) -> SerialClient:
    from rig.meter.iec62056.client import Iec62056Client

    iec: Iec62056Settings = settings
    return Iec62056Client.open(
        port, baudrate=serial.baudrate, bytesize=serial.bytesize, parity=parity,
        stopbits=serial.stopbits, address=address, password=iec.password,
        max_baudrate=iec.max_baudrate, timeout=timeout, retries=retries,
        transcript=transcript)


def _iec62056_responder(address: str, bank: DataBank, serial: SerialSettings,
                        settings: Iec62056Settings) -> Iec62056Responder:
    """A pty carries no parity: each session is answered in the form its sign-on came in."""
    from rig.meter.iec62056.server import Iec62056Responder

    return Iec62056Responder(
        address, bank, manufacturer=settings.manufacturer, ident=settings.identification,
        password=settings.password, initial_baudrate=serial.baudrate,
        max_baudrate=settings.max_baudrate, software_parity=None)


_TWELVE_DIGITS = re.compile(r"\d{12}")

PROTOCOLS: dict[str, MeterProtocol] = {p.kind: p for p in (
    MeterProtocol(
        kind="dlt645-2007", title="DL/T 645-2007", wire=Wire.DLT645, settings_key="dlt645",
        settings=Dlt645Settings, address=_TWELVE_DIGITS,
        address_rule="a DL/T 645 address must be exactly 12 decimal digits",
        registers=_dlt645_registers, check_register=_check_data_id, register_code=str.upper,
        check_settings=_no_check, client_class="rig.meter.dlt645.client:Dlt645Client",
        connect=_open_dlt645,
        responder=_dlt645_responder),
    MeterProtocol(
        kind="iec62056-21", title="IEC 62056-21 mode C", wire=Wire.IEC62056,
        settings_key="iec62056", settings=Iec62056Settings, address=_TWELVE_DIGITS,
        address_rule="the device address doubles as the 12-digit meter number cards are "
                     "bound to: exactly 12 decimal digits",
        registers=lambda money: _IEC_DEFAULTS, check_register=_check_obis,
        register_code=lambda code: code, check_settings=_check_iec62056,
        client_class="rig.meter.iec62056.client:Iec62056Client",
        connect=_open_iec62056, responder=_iec62056_responder),
)}


def protocol_named(kind: str) -> MeterProtocol:
    """The registry entry of `kind`; a ValueError naming the known kinds if there is none."""
    try:
        return PROTOCOLS[kind]
    except KeyError:
        raise ValueError(f"unknown protocol {kind!r} (known: {', '.join(PROTOCOLS)})") \
            from None
