"""Fault injection and fault campaigns for reliability testing (docs/faults.md).

rig.bench.serial_proxy (a faulty line between rig and meter, which the bench puts in the meter's
place when its config asks for faults) is driven by serial_audit (what the checksum let
through), serial_campaign (the prepaid cycle on a faulty line), card_world / card_tearing /
card_corruption (card faults on the in-process card world), instrument_campaign (load faults
mid-cycle). bench/faults.py counts them; tests/faults requires every case to balance.
"""
