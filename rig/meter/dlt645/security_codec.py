"""Field packing shared by the DL/T 645 security commands' codecs.

Every field of a security command goes on the wire low byte first (an 8-byte random or
cryptogram reversed, a count a little-endian integer); these helpers turn a field most
significant byte first (as the ESAM computes MACs over it) into its wire bytes and back, and
name the command in every length error.
"""

from __future__ import annotations

from rig.errors import ProtocolError


def wire(field: bytes) -> bytes:
    return field[::-1]


def take(body: bytes, sizes: tuple[int, ...], what: str) -> list[bytes]:
    """Split ``body`` into fields of ``sizes`` (wire order), each turned most significant
    byte first; a wrong length is a ProtocolError naming the command."""
    if len(body) != sum(sizes):
        raise ProtocolError(f"{what}: {len(body)} data bytes, expected {sum(sizes)}")
    out, at = [], 0
    for n in sizes:
        out.append(body[at:at + n][::-1])
        at += n
    return out


def fixed(name: str, value: bytes, size: int) -> bytes:
    if len(value) != size:
        raise ValueError(f"{name} is {size} bytes, got {len(value)}")
    return bytes(value)


def u32(name: str, value: int) -> bytes:
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"{name} {value} does not fit 4 bytes")
    return value.to_bytes(4, "big")


def customer_bytes(customer_no: str) -> bytes:
    """A 12-digit customer number as its 6 BCD bytes (most significant first)."""
    if len(customer_no) != 12 or not customer_no.isdigit():
        raise ValueError(f"customer number {customer_no!r}: 12 decimal digits")
    return bytes.fromhex(customer_no)


def customer_text(raw: bytes) -> str:
    text = raw.hex()
    if not text.isdigit():
        raise ProtocolError(f"customer number {raw.hex().upper()} is not BCD")
    return text


def bcd2(minutes: int) -> bytes:
    if not 0 <= minutes <= 9999:
        raise ValueError(f"validity {minutes} minutes: 0 to 9999")
    return bytes.fromhex(f"{minutes:04d}")
