"""The State Grid security extension's names: data identifiers, ESAM files, field sizes.

The data identifiers of the control code 03 security commands (``07xxxxFF``) and the ESAM
file numbers a read-back names are those public State Grid meter firmware headers list (the
Q/GDW 1365-style extension of DL/T 645-2007; docs/protocols.md cites them). Which rig file
carries what, where a header gives only a number, is rig's choice and said so below.
"""

from __future__ import annotations

CONTROL_SECURITY = 0x03

DI_IDENTITY = 0x070000FF  # identity authentication: cipher 1, random 1, factor -> random 2, ESAM no
DI_IDENTITY_VALIDITY = 0x070001FF  # identity-authentication validity time (minutes) + MAC
DI_IDENTITY_END = 0x070002FF  # authentication invalidation -> customer, remaining, count, keys
DI_OPEN_ACCOUNT = 0x070101FF  # remote open account: amount, count, MAC1, customer no, MAC2
DI_RECHARGE = 0x070102FF  # remote recharge: same layout as open account
DI_WALLET_INIT = 0x070103FF  # wallet initialisation: preset, MAC1, count, MAC2
DI_WRITE_PLAIN = 0x070004FF  # write an ESAM file in plain text with MAC: file, offset, data
DI_KEY_UPDATE = 0x070301FF  # key update: up to 4 × (key 32 + key info 4), MAC
DI_READBACK = 0x078001FF  # data read-back with MAC: length, offset, file, directory
DI_STATUS = 0x078102FF  # status query: remaining + MAC, count + MAC, customer, key state

SECURITY_DIS = {
    DI_IDENTITY: "identity authentication",
    DI_IDENTITY_VALIDITY: "identity authentication validity time",
    DI_IDENTITY_END: "authentication invalidation",
    DI_OPEN_ACCOUNT: "open account",
    DI_RECHARGE: "recharge",
    DI_WALLET_INIT: "wallet initialisation",
    DI_WRITE_PLAIN: "plain-text write with MAC",
    DI_KEY_UPDATE: "key update",
    DI_READBACK: "data read-back with MAC",
    DI_STATUS: "status query",
}

MAC_LEN = 4
KEY_FIELD_LEN = 32  # a key-update record's key (rig: one sealed key package)
MAX_KEY_RECORDS = 4
DIRECTORY_APPLICATION = 0xDF01  # the ESAM application directory a read-back names
FILE_PURSE = 0x0001  # remaining, purchase count, customer number
FILE_PRICE = 0x05  # the current price file (rig: tariff version, price in 0.0001 units)
FILE_RUNNING = 0x0007  # the meter's running information (rig.card_formats.running_info)
PRICE_SCALE = 10_000
