"""`rig sts …`: check STS tokens by hand (decoder keys, decode, encode), as a lab does.

Bad input (a token that fails its CRC, a key of the wrong length, a field out of range) is one
line on stderr and exit code 2. A vending key given here is used and forgotten: it is never
printed or written.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer

from rig.sts.keys import Encryption

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="STS tokens (IEC 62055-41): decoder keys, decode and encode a "
                  "20-digit token.")


EncryptionOpt = Annotated[Encryption | None, typer.Option(
    "--encryption", help="EA07 sta, EA09 dea, EA11 misty1 (default: misty1 for a 128-bit "
    "decoder key, else sta)")]
BaseDateOpt = Annotated[int, typer.Option("--base-date", help="the TID's base date: 1993, "
                                          "2014 or 2035")]


def _fail(message: str) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(2)


def _encryption(choice: Encryption | None, key_bytes: int) -> Encryption:
    if choice is not None:
        return choice
    return Encryption.MISTY1 if key_bytes == 16 else Encryption.STA


@app.command("decoder-key")
def decoder_key(
    algorithm: Annotated[str, typer.Option(help="decoder key generation algorithm: dkga02 "
                                           "or dkga04")],
    vending_key: Annotated[str, typer.Option(help="vending key, hex (64-bit for dkga02, "
                                             "160-bit for dkga04); never printed")],
    pan: Annotated[str, typer.Option(help="MeterPAN, 18 digits")],
    supply_group: Annotated[str, typer.Option(help="supply group code (SGC), 6 digits")],
    tariff_index: Annotated[str, typer.Option(help="tariff index (TI), 2 digits")],
    key_revision: Annotated[int, typer.Option(help="key revision number (KRN), 1-9")],
    key_type: Annotated[int, typer.Option(help="key type (KT), 0-3")],
    encryption: EncryptionOpt = None,
    base_date: BaseDateOpt = 1993,
) -> None:
    """Print the meter's decoder key in hex, most significant byte first (the order the
    standard feeds to the cipher; some implementations store it reversed)."""
    from rig.sts import keys
    from rig.sts.errors import StsError

    try:
        meter = keys.MeterIdentity(pan, supply_group, tariff_index, key_revision, key_type)
        if algorithm not in ("dkga02", "dkga04"):
            raise StsError(f"--algorithm {algorithm!r}: dkga02 or dkga04")
        if algorithm == "dkga02":
            vk = keys.parse_hex_key("--vending-key", vending_key, (8,))
            if encryption is Encryption.MISTY1:
                raise StsError("--encryption misty1 needs a 128-bit key: DKGA04")
            key = keys.dkga02(vk, meter)
        else:
            vk = keys.parse_hex_key("--vending-key", vending_key, (20,))
            enc = encryption or Encryption.MISTY1
            key = keys.dkga04(vk, meter, enc, base_date)
    except StsError as e:
        raise _fail(str(e)) from None
    sys.stdout.write(key.hex().upper() + "\n")


@app.command()
def decode(
    token: Annotated[str, typer.Argument(help="the 20 digits (spaces or dashes allowed)")],
    decoder_key: Annotated[str, typer.Option(help="decoder key, hex (64 or 128 bits)")],
    encryption: EncryptionOpt = None,
    base_date: BaseDateOpt = 1993,
    json_: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """Decrypt a token, check its CRC and print class, subclass, TID, time, amount and unit."""
    from rig.sts import keys, tokens
    from rig.sts import token as tk
    from rig.sts.errors import StsError

    try:
        key = keys.parse_hex_key("--decoder-key", decoder_key, (8, 16))
        enc = _encryption(encryption, len(key))
        tk.base_date(base_date)
        info = tokens.describe(tk.decode(token, key, enc), base_date)
    except StsError as e:
        raise _fail(str(e)) from None
    if json_:
        sys.stdout.write(json.dumps(info) + "\n")
        return
    lines = [f"class {info['class']} subclass {info['subclass']}: {info['name']}"]
    if info["tid"] is not None:
        lines.append(f"TID {info['tid']} = {info['issued_at']} (base date {base_date})")
    if info["amount"] is not None:
        lines.append(f"amount {info['amount']} {info['unit']}")
    extra = {k: v for k, v in info.items()
             if k not in {"class", "subclass", "name", "tid", "issued_at", "amount", "unit"}}
    lines += [f"{k} {v}" for k, v in extra.items()]
    sys.stdout.write("\n".join(lines) + "\n")


@app.command()
def encode(
    decoder_key: Annotated[str, typer.Option(help="decoder key, hex (64 or 128 bits)")],
    class_: Annotated[int, typer.Option("--class", help="token class: 0 credit, 1 test, "
                                        "2 management")],
    subclass: Annotated[int, typer.Option(help="token subclass")],
    amount: Annotated[str, typer.Option(help="class 0: amount in the subclass's unit (0.1 kWh "
                                        "steps for electricity); class 2: the value (W for "
                                        "power limits); class 1: the control bits")],
    issued_at: Annotated[str, typer.Option(help="ISO 8601 time of issue (UTC if no offset)")],
    random: Annotated[int, typer.Option(help="the 4-bit random number, 0-15")],
    encryption: EncryptionOpt = None,
    base_date: BaseDateOpt = 1993,
    manufacturer: Annotated[int, typer.Option(help="class 1: manufacturer code")] = 0,
) -> None:
    """Print the 20 digits of a credit (class 0), test (1) or management (2) token."""
    from rig.sts import keys, tokens
    from rig.sts.errors import StsError

    try:
        key = keys.parse_hex_key("--decoder-key", decoder_key, (8, 16))
        enc = _encryption(encryption, len(key))
        try:
            when = datetime.fromisoformat(issued_at)
        except ValueError:
            raise StsError(f"--issued-at {issued_at!r}: not an ISO 8601 time") from None
        try:
            value = Decimal(amount)
        except InvalidOperation:
            raise StsError(f"--amount {amount!r}: not a number") from None
        issue = tokens.Issue(when, base_date, random)
        if class_ == 0:
            digits = tokens.credit_token(key, enc, subclass=subclass, amount=value,
                                         issue=issue)
        elif class_ in (1, 2):
            if value != value.to_integral_value() or value < 0:
                raise StsError(f"--amount {amount}: class {class_} takes a whole number")
            if class_ == 1:
                digits = tokens.test_token(subclass, int(value), manufacturer)
            else:
                digits = tokens.management_token(key, enc, subclass=subclass,
                                                 value=int(value), issue=issue)
        else:
            raise StsError(f"--class {class_}: rig encodes classes 0, 1 and 2")
    except StsError as e:
        raise _fail(str(e)) from None
    sys.stdout.write(digits + "\n")
