"""The SLE 4442 chip model through its native commands (data sheet control bytes)."""

from rig.card_formats.sle4442.chip import (
    ATR_HEADER,
    COMPARE_VERIFICATION,
    READ_MAIN,
    READ_PROTECTION,
    READ_SECURITY,
    UPDATE_MAIN,
    UPDATE_SECURITY,
    WRITE_PROTECTION,
    SLE4442Chip,
    verify_psc,
)

PSC = bytes.fromhex("12AB34")


def _chip() -> SLE4442Chip:
    return SLE4442Chip(psc=PSC)


def test_fresh_chip_reads_its_atr_header_and_refuses_updates_without_psc() -> None:
    chip = _chip()
    assert chip.command(READ_MAIN, 0)[:4] == ATR_HEADER
    assert len(chip.command(READ_MAIN, 0x20)) == 256 - 0x20  # reads to the end of memory
    chip.command(UPDATE_MAIN, 0x40, 0x55)
    assert chip.command(READ_MAIN, 0x40)[0] == 0xFF
    assert chip.command(READ_SECURITY, 0) == bytes([7, 0, 0, 0])  # PSC not readable


def test_psc_procedure_unlocks_until_power_off() -> None:
    chip = _chip()
    assert verify_psc(chip.command, PSC) == 7
    chip.command(UPDATE_MAIN, 0x40, 0x55)
    assert chip.command(READ_MAIN, 0x40)[0] == 0x55
    assert chip.command(READ_SECURITY, 0) == bytes([7]) + PSC  # readable once verified
    chip.power_on()
    chip.command(UPDATE_MAIN, 0x40, 0x66)
    assert chip.command(READ_MAIN, 0x40)[0] == 0x55


def test_compare_without_spending_a_counter_bit_never_unlocks() -> None:
    chip = _chip()
    for i, b in enumerate(PSC, start=1):
        chip.command(COMPARE_VERIFICATION, i, b)
    chip.command(UPDATE_SECURITY, 0, 0xFF)
    assert not chip.unlocked
    assert chip.command(READ_SECURITY, 0)[0] == 7


def test_three_wrong_pscs_lock_for_good_even_after_power_cycles_and_reload() -> None:
    chip = _chip()
    assert [verify_psc(chip.command, b"\0\0\0") for _ in range(3)] == [6, 4, 0]
    chip = SLE4442Chip.from_dict(chip.to_dict())
    chip.power_on()
    assert verify_psc(chip.command, PSC) == 0  # the right PSC no longer helps
    chip.command(UPDATE_MAIN, 0x40, 0x55)
    chip.command(UPDATE_SECURITY, 1, 0x00)  # no PSC change either
    assert chip.command(READ_MAIN, 0x40)[0] == 0xFF
    assert chip.psc == PSC and chip.locked


def test_the_last_attempt_with_the_right_psc_still_succeeds() -> None:
    chip = _chip()
    verify_psc(chip.command, b"\0\0\0")
    verify_psc(chip.command, b"\0\0\0")
    assert verify_psc(chip.command, PSC) == 7


def test_protection_bit_freezes_a_byte_only_if_the_data_matches() -> None:
    chip = _chip()
    verify_psc(chip.command, PSC)
    chip.command(UPDATE_MAIN, 5, 0x42)
    chip.command(WRITE_PROTECTION, 5, 0x41)  # wrong data: not protected
    chip.command(WRITE_PROTECTION, 6, 0xFF)
    assert chip.command(READ_PROTECTION, 0) == bytes([0xBF, 0xFF, 0xFF, 0xFF])
    chip.command(WRITE_PROTECTION, 5, 0x42)
    assert chip.command(READ_PROTECTION, 0) == bytes([0x9F, 0xFF, 0xFF, 0xFF])
    chip.command(UPDATE_MAIN, 5, 0x00)
    chip.command(UPDATE_MAIN, 6, 0x00)
    assert chip.command(READ_MAIN, 5)[:2] == bytes([0x42, 0xFF])
    again = SLE4442Chip.from_dict(chip.to_dict())
    verify_psc(again.command, PSC)
    again.command(UPDATE_MAIN, 5, 0x00)
    assert again.command(READ_MAIN, 5)[0] == 0x42  # frozen for ever
