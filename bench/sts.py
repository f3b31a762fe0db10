"""How fast rig makes and checks STS tokens, per cipher, side by side in one run.

Run from the repo root: ``.venv/bin/python bench/sts.py [N]``.

For each cipher (EA07 STA and EA11 MISTY1 in pure Python, EA09 DES through `cryptography`'s C
code) it times N credit tokens encoded and the same N decoded (decryption, CRC check and
description, as `rig sts decode` and the keypad meter do), interleaving the ciphers round by
round so all see the same machine state. Beside them, the CRC alone and the DKGA02 and DKGA04
key derivations. A vending office issues a token per sale and a meter decodes one per key
press, so the figure that matters is per token, in microseconds. Prints a table and, last, one
line of flat JSON (name -> number).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rig.sts import token as tk
from rig.sts import tokens
from rig.sts.keys import Encryption, MeterIdentity, dkga02, dkga04

METER = MeterIdentity("600727000000000009", "123456", "01", 1, 2)
VK02 = bytes.fromhex("abababababababab")
VK04 = bytes.fromhex("abababababababab949494949494949401234567")
START = datetime(2004, 4, 1, tzinfo=UTC)


def per_call_us(fn: Callable[[int], object], n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t) / n * 1e6


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    keys = {Encryption.STA: dkga02(VK02, METER), Encryption.DEA: dkga02(VK02, METER),
            Encryption.MISTY1: dkga04(VK04, METER, Encryption.MISTY1, 1993)}

    def encoder(enc: Encryption) -> Callable[[int], object]:
        return lambda i: tokens.credit_token(
            keys[enc], enc, subclass=0, amount=Decimal(i % 5000) / 10,
            issue=tokens.Issue(START + timedelta(minutes=i), 1993, i % 16))

    made = {enc: [encoder(enc)(i) for i in range(n)] for enc in keys}

    def decoder(enc: Encryption) -> Callable[[int], object]:
        return lambda i: tokens.describe(tk.decode(str(made[enc][i]), keys[enc], enc), 1993)

    rows: dict[str, list[float]] = {}
    for _ in range(5):  # rounds, interleaved
        for enc in keys:
            rows.setdefault(f"encode_{enc.value}_us", []).append(per_call_us(encoder(enc), n))
            rows.setdefault(f"decode_{enc.value}_us", []).append(per_call_us(decoder(enc), n))
        rows.setdefault("crc_us", []).append(
            per_call_us(lambda i: tk.token_crc(0, i * 0x9E3779B97F4A), n))
        rows.setdefault("dkga02_us", []).append(per_call_us(lambda i: dkga02(VK02, METER), n))
        rows.setdefault("dkga04_us", []).append(
            per_call_us(lambda i: dkga04(VK04, METER, Encryption.MISTY1, 1993), n))
    result = {name: round(statistics.median(v), 1) for name, v in rows.items()}
    result["decode_sta_over_dea"] = round(result["decode_sta_us"] / result["decode_dea_us"], 2)
    result["decode_misty1_over_dea"] = round(
        result["decode_misty1_us"] / result["decode_dea_us"], 2)
    print(f"{'what':28} median of 5 rounds of {n}")
    for name, value in result.items():
        print(f"{name:28} {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
