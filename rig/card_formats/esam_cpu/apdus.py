"""The esam-cpu card's commands as a terminal sends them (the station's writer and the meter).

One place spells the command bytes, so the writer, the meter, the traces and the tests agree.
A status word other than 9000 raises ``StatusWordError`` carrying the command header, which
the meter files in its abnormal-insertion record.
"""

from __future__ import annotations

from rig.card.apdu import StatusWordError
from rig.card.session import ApduTransport
from rig.card_formats.esam_cpu import layout
from rig.card_formats.esam_cpu.card import (
    CLA,
    CLA_KEY,
    CLA_SM,
    INS_CHALLENGE,
    INS_EXTERNAL,
    INS_INTERNAL,
    INS_READ,
    INS_SELECT,
    INS_UPDATE,
    INS_WRITE_KEY,
    line_mac_input,
)
from rig.esam.crypto import MAC_LEN
from rig.esam.keys import KeyId

CHUNK = 0xF0  # the most a READ/UPDATE BINARY moves at once here


class CardClient:
    """Commands to one card over ``transport``; ``last_header`` is the last command's
    CLA INS P1 P2 P3, for a refusal record."""

    def __init__(self, transport: ApduTransport) -> None:
        self.transport = transport
        self.last_header = bytes(5)

    def send(self, name: str, apdu: bytes) -> bytes:
        self.last_header = apdu[:5].ljust(5, b"\0")
        response = bytes(self.transport.transmit(apdu))
        if len(response) < 2:
            raise StatusWordError(name, 0x6F, 0x00, self.last_header)
        if response[-2:] != b"\x90\x00":
            raise StatusWordError(name, response[-2], response[-1], self.last_header)
        return response[:-2]

    # -- selection ---------------------------------------------------------------------
    def select_mf(self) -> None:
        self.send("SELECT MF", bytes([CLA, INS_SELECT, 0x00, 0x0C, 0x02, 0x3F, 0x00]))

    def select_application(self) -> None:
        aid = layout.AID
        self.send("SELECT application", bytes([CLA, INS_SELECT, 0x04, 0x00, len(aid)]) + aid)

    def select_ef(self, fid: int) -> None:
        self.send(f"SELECT EF {fid:04X}",
                  bytes([CLA, INS_SELECT, 0x02, 0x0C, 0x02]) + fid.to_bytes(2, "big"))

    # -- files -------------------------------------------------------------------------
    def read(self, fid: int, length: int | None = None) -> bytes:
        size = layout.EF_SIZES[fid] if length is None else length
        self.select_ef(fid)
        out = b""
        while len(out) < size:
            n = min(CHUNK, size - len(out))
            off = len(out)
            out += self.send(f"READ BINARY EF {fid:04X}",
                             bytes([CLA, INS_READ, off >> 8, off & 0xFF, n]))
        return out

    def read_with_mac(self, fid: int, random: bytes) -> tuple[bytes, bytes]:
        """(content, MAC) of a whole EF of at most one chunk, MAC'd by the card."""
        size = layout.EF_SIZES[fid]
        self.select_ef(fid)
        answer = self.send(f"READ BINARY with MAC EF {fid:04X}",
                           bytes([CLA_SM, INS_READ, 0, 0, len(random)]) + random + bytes([size]))
        return answer[:-MAC_LEN], answer[-MAC_LEN:]

    def update(self, fid: int, data: bytes) -> None:
        self.select_ef(fid)
        for off in range(0, len(data), CHUNK):
            part = data[off:off + CHUNK]
            self.send(f"UPDATE BINARY EF {fid:04X}",
                      bytes([CLA, INS_UPDATE, off >> 8, off & 0xFF, len(part)]) + part)

    @staticmethod
    def update_mac_header(length: int) -> bytes:
        """The header of an UPDATE BINARY with MAC of ``length`` data bytes at offset 0."""
        return bytes([CLA_SM, INS_UPDATE, 0, 0, length + MAC_LEN])

    def update_with_mac(self, fid: int, data: bytes, mac: bytes) -> None:
        self.send(f"UPDATE BINARY with MAC EF {fid:04X}",
                  self.update_mac_header(len(data)) + data + mac)

    # -- security ----------------------------------------------------------------------
    def get_challenge(self, length: int = 8) -> bytes:
        return self.send("GET CHALLENGE", bytes([CLA, INS_CHALLENGE, 0, 0, length]))

    def internal_authenticate(self, challenge: bytes) -> bytes:
        return self.send("INTERNAL AUTHENTICATE", bytes(
            [CLA, INS_INTERNAL, 0, KeyId.CARD_INTERNAL.code, len(challenge)]) + challenge
            + b"\x08")

    def external_authenticate(self, cryptogram: bytes) -> None:
        self.send("EXTERNAL AUTHENTICATE", bytes(
            [CLA, INS_EXTERNAL, 0, KeyId.CARD_EXTERNAL.code, len(cryptogram)]) + cryptogram)

    def write_key(self, key_id: KeyId, package: bytes) -> None:
        self.send(f"WRITE KEY {key_id.value}",
                  bytes([CLA_KEY, INS_WRITE_KEY, 0, key_id.code, len(package)]) + package)

    def read_serial(self) -> str | None:
        """The card serial (EF 3F00/0005), None on a blank card."""
        self.select_mf()
        raw = self.read(layout.FID_SERIAL)
        return raw.hex().upper() if any(raw) else None


def return_mac_input(data: bytes) -> bytes:
    """What the meter's ESAM MACs to write ``data`` into the return-write file."""
    return line_mac_input(CardClient.update_mac_header(len(data)), data)
