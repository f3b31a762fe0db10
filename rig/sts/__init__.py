"""STS tokens (IEC 62055-41): the 20-digit credit and management tokens typed on a keypad meter.

`token` builds and reads the 66-bit token, `amount` its amount field, `keys` derives decoder
keys (DKGA02, DKGA04), `ciphers` picks the encryption algorithm (EA07 STA, EA09 DEA, EA11
MISTY1); docs/sts.md explains the standard and where each fact comes from.
"""
