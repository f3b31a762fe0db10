"""The status query (078102FF) and the enciphered relay control (1C at password level 98H).

**Status query.** Public State Grid meter firmware headers give its answer as 26 bytes:
remaining amount (4) and its MAC (4), purchase count (4) and its MAC (4), customer number (6),
key state (4) (e.g. the ``CL_GetStatusR`` / ``C_GetS_O_*`` offsets of the
``SecurityCommunication.h`` header cited in docs/protocols.md). The request has no body. Which
key the two MACs are under is rig's choice: ``remote-control``, the session's random 2 as
vector, as every MAC the ESAM returns in a session.

**Enciphered relay control.** State Grid ESAM meters take control code 1C with the password
level 98H meaning "the control data is enciphered and MAC'd" (the public headers name the
ESAM's remote-control file ``08`` that deciphers it). rig's layout, where no public source
gives the bytes: ``PA=98 P0..P2 | C0..C3 | cipher (16) | MAC (4)``, the cipher being the
plain relay command block ``N1 N2 N3..N8`` (command, reserved 00, validity ``ssmmhhDDMMYY``,
exactly what a plain 1C frame carries) enciphered under the meter's ``remote-control`` key,
the MAC over the cipher under the same key with the session's random 2; both fields low byte
first like every security field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

from rig.errors import ProtocolError
from rig.meter.dlt645 import values
from rig.meter.dlt645.security_codec import customer_bytes, customer_text, fixed, take, u32, wire
from rig.meter.dlt645.security_ids import MAC_LEN

PASSWORD_LEVEL_CIPHER = 0x98  # PA of a 1C whose control data is enciphered with a MAC
CIPHER_LEN = 16  # one SM4 block: the 8-byte command block after padding method 2
COMMAND_BLOCK_LEN = 8


@dataclass(frozen=True)
class StatusReply:
    """078102FF's answer: the ESAM's remaining amount and purchase count, each with its MAC,
    the customer number (000000000000: not opened) and the key state (0 public, 1 private)."""

    remaining: int
    remaining_mac: bytes
    purchase_count: int
    count_mac: bytes
    customer_no: str
    key_info: int
    SIZES: ClassVar[tuple[int, ...]] = (4, 4, 4, 4, 6, 4)

    @property
    def remaining_input(self) -> bytes:
        return u32("remaining", self.remaining)

    @property
    def count_input(self) -> bytes:
        return u32("purchase count", self.purchase_count)

    def encode(self) -> bytes:
        return (wire(self.remaining_input) + wire(fixed("MAC 1", self.remaining_mac, MAC_LEN))
                + wire(self.count_input) + wire(fixed("MAC 2", self.count_mac, MAC_LEN))
                + wire(customer_bytes(self.customer_no))
                + wire(u32("key state", self.key_info)))

    @classmethod
    def decode(cls, body: bytes) -> StatusReply:
        r, m1, n, m2, c, k = take(body, cls.SIZES, "status query reply")
        return cls(int.from_bytes(r, "big"), m1, int.from_bytes(n, "big"), m2, customer_text(c),
                   int.from_bytes(k, "big"))


@dataclass(frozen=True)
class ControlCommand:
    """The plain relay command block the office enciphers: N1 (a ``RelayCommand`` value), N2
    reserved, N3..N8 the moment after which the meter must not act on it."""

    command: int
    valid_until: dt.datetime

    def encode(self) -> bytes:
        if not 0 <= self.command <= 0xFF:
            raise ValueError(f"relay command {self.command} is not one byte")
        return bytes([self.command, 0]) + values.datetime_to_wire(self.valid_until)

    @classmethod
    def decode(cls, block: bytes) -> ControlCommand:
        if len(block) != COMMAND_BLOCK_LEN:
            raise ProtocolError(f"relay command block: {len(block)} bytes, expected "
                                f"{COMMAND_BLOCK_LEN}")
        try:
            until = values.datetime_from_wire(block[2:8])
        except ValueError as e:
            raise ProtocolError(f"relay command validity {block[2:8].hex().upper()}: {e}") \
                from None
        return cls(block[0], until)


@dataclass(frozen=True)
class EncipheredControl:
    """The data of an enciphered 1C after PA P0..P2 and C0..C3: the cipher and its MAC."""

    cipher: bytes
    mac: bytes
    SIZES: ClassVar[tuple[int, ...]] = (CIPHER_LEN, MAC_LEN)

    @property
    def mac_input(self) -> bytes:
        return self.cipher

    def encode(self) -> bytes:
        return (wire(fixed("relay control cipher", self.cipher, CIPHER_LEN))
                + wire(fixed("MAC", self.mac, MAC_LEN)))

    @classmethod
    def decode(cls, body: bytes) -> EncipheredControl:
        cipher, mac = take(body, cls.SIZES, "enciphered relay control")
        return cls(cipher, mac)


def enciphered_password(password: bytes) -> bytes:
    """The 4-byte password field of an enciphered 1C: level 98H, then P0..P2."""
    if len(password) != 4:
        raise ValueError(f"password must be 4 bytes, got {len(password)}")
    return bytes([PASSWORD_LEVEL_CIPHER]) + password[1:]
