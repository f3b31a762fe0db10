"""The behaviour table of docs/card-formats/esam-cpu.md, one row a test: the emulated CPU-card
meter with its ESAM, the card written through pcscd + vpcd, the meter's credit and
abnormal-insertion record read over its pty (DL/T 645), the card's return-write file read
back through the writer.

Each row: the meter's purchase count before, the card (the account's card A, or card B), its
card type and purchase count relative to the meter's, the return-write file's state, the
key state of card and meter; then whether the meter credits, refuses with which State Grid
code, and writes the return-write file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from rig.card_formats.esam_cpu import layout
from rig.card_formats.esam_cpu.layout import AbnormalInsertion, CardType, ReturnRecord
from rig.esam.keys import KeyState
from rig.meter.card_errors import CardErrorCode as E

from .conftest import CARD_A, CARD_B, CpuBench

PRIVATE, PUBLIC = KeyState.PRIVATE, KeyState.PUBLIC
CREDIT = 1000  # cents on the card under test


@dataclass(frozen=True)
class Row:
    meter_at: int  # the meter's purchase count before the insertion
    card: str  # CARD_A (the account's) or CARD_B
    card_type: CardType
    delta: int  # the card's purchase count minus the meter's
    return_state: str  # "as left" | "empty" | "written" (by some meter) | "corrupt"
    refusal: E | None  # None: accepted
    credited: bool
    return_written: bool
    card_state: str = "same"  # the card keyed in the meter's key state, or the "other"
    meter_state: KeyState = PRIVATE


OA, P, R = CardType.OPEN_ACCOUNT, CardType.PURCHASE, CardType.REPLACEMENT
TABLE = {
    "open-account+1 empty": Row(0, CARD_A, OA, 1, "empty", None, True, True),
    "open-account=0 empty": Row(0, CARD_A, OA, 0, "empty", None, False, True),
    "open-account+1 written": Row(0, CARD_A, OA, 1, "written", E.READBACK_FILE_NOT_EMPTY,
                                  False, False),
    "open-account+1 corrupt": Row(0, CARD_A, OA, 1, "corrupt", E.READBACK_FILE_NOT_EMPTY,
                                  False, False),
    "open-account+2 empty": Row(0, CARD_A, OA, 2, "empty", E.PURCHASE_COUNT_ERROR, False, True),
    "purchase+1 no account": Row(0, CARD_A, P, 1, "empty",
                                 E.PURCHASE_CARD_ACCOUNT_NOT_OPENED, False, False),
    "replacement+1 no account": Row(0, CARD_B, R, 1, "empty",
                                    E.REPLACEMENT_CARD_ACCOUNT_NOT_OPENED, False, False),
    "purchase-1": Row(2, CARD_A, P, -1, "as left", E.PURCHASE_COUNT_ERROR, False, False),
    "purchase=": Row(1, CARD_A, P, 0, "as left", None, False, True),
    "purchase+1": Row(1, CARD_A, P, 1, "as left", None, True, True),
    "purchase+1 empty": Row(1, CARD_A, P, 1, "empty", None, True, True),
    "purchase+1 corrupt": Row(1, CARD_A, P, 1, "corrupt", None, True, True),
    "purchase+2": Row(1, CARD_A, P, 2, "as left", E.PURCHASE_COUNT_ERROR, False, True),
    "purchase+3": Row(1, CARD_A, P, 3, "as left", E.PURCHASE_COUNT_ERROR, False, True),
    "replacement=": Row(1, CARD_B, R, 0, "empty", None, False, True),
    "replacement+1": Row(1, CARD_B, R, 1, "empty", None, True, True),
    "replacement+2": Row(1, CARD_B, R, 2, "empty", E.PURCHASE_COUNT_ERROR, False, True),
    "purchase+1 other card": Row(1, CARD_B, P, 1, "empty", E.CARD_SERIAL_MISMATCH, False,
                                 False),
    "purchase+1 public card, private meter": Row(1, CARD_A, P, 1, "as left", E.NOT_AUTHORISED,
                                                 False, False, card_state="other"),
    "open-account+1 public card, private meter": Row(0, CARD_A, OA, 1, "empty",
                                                     E.NOT_AUTHORISED, False, False,
                                                     card_state="other"),
    "open-account+1 private card, public meter": Row(0, CARD_A, OA, 1, "empty",
                                                     E.NOT_AUTHORISED, False, False,
                                                     card_state="other", meter_state=PUBLIC),
    "purchase+1 public card, public meter": Row(1, CARD_A, P, 1, "as left", None, True, True,
                                                meter_state=PUBLIC),
}


def _some_meters_record(serial: str) -> bytes:
    """A return-write record another meter left on the card (its MAC is not ours to judge)."""
    return ReturnRecord(
        generation=7, meter_no="000000009999", card_serial=serial, credit_unit="money_cents",
        relay_open=False, alarm_active=False, energy_wh=1, remaining=2, overdraft=0,
        purchase_count=1, last_sequence=1, cumulative_purchase=2, alarm_count=0,
        cutoff_count=0, tamper_count=0, power_down_count=0,
        timestamp=datetime(2026, 1, 1, tzinfo=UTC), tariff_version=0,
        abnormal=AbnormalInsertion(), refusal_count=0, key_state=PRIVATE).to_bytes()


def _prepare(bench: CpuBench, row: Row) -> None:
    """The meter at its purchase count with card A; then the card under test as the row
    says, every write through the writer (pcscd + vpcd) with the office's key service."""
    if row.meter_at:
        bench.issue(CARD_A)
        for sequence in range(1, row.meter_at + 1):
            bench.sell(sequence)
            assert bench.insert().accepted
    other = 1 - bench.revision if bench.revision in (0, 1) else 0
    revision = other if row.card_state == "other" else bench.revision
    kind = "replacement" if row.card_type is R else "user"
    if row.card is CARD_B or not row.meter_at or row.card_state == "other":
        bench.issue(row.card, revision=revision, kind=kind)
    else:
        bench.hand_over(row.card)
    bench.put_on_card(card_type=row.card_type, purchase_count=row.meter_at + row.delta,
                      credit=CREDIT)
    data = {"empty": bytes(layout.ReturnRecord.SIZE), "written": _some_meters_record(row.card),
            "corrupt": b"\x5a" * layout.ReturnRecord.SIZE}.get(row.return_state)
    if data is not None:
        bench.put_return(data)


def _run(bench: CpuBench, row: Row) -> None:
    _prepare(bench, row)
    remaining = bench.remaining()
    refused_before = bench.refusals().count
    card_before = bench.card_return()

    outcome = bench.insert()

    assert outcome.accepted is (row.refusal is None), outcome.message
    expected = remaining + (Decimal(CREDIT) / 100 if row.credited else 0)
    assert bench.remaining() == expected  # over the pty
    refusals = bench.refusals()
    if row.refusal is None:
        assert refusals.count == refused_before
    else:
        assert refusals.count == refused_before + 1
        record = refusals.last_record
        assert record is not None
        assert (record.error, record.card_serial) == (int(row.refusal), row.card)
        assert refusals.last_reason == row.refusal
    card_after = bench.card_return()
    if row.return_written:
        assert card_after is not None and card_after != card_before
        assert card_after.meter_no == bench.meter_no and card_after.card_serial == row.card
        assert card_after.remaining == int(expected * 100)
        if row.refusal is not None:  # written, then refused: the record names the refusal
            assert card_after.abnormal.code == int(row.refusal)
    else:
        assert card_after == card_before


@pytest.mark.bench
@pytest.mark.parametrize("row", list(TABLE.values()), ids=list(TABLE))
def test_behaviour_table_row(row: Row, tmp_path, request: pytest.FixtureRequest) -> None:
    name = "public_bench" if row.meter_state is PUBLIC else "cpu_bench"
    bench: CpuBench = request.getfixturevalue(name)
    _run(bench, row)


@pytest.mark.bench
def test_after_a_replacement_the_original_card_is_refused(cpu_bench: CpuBench) -> None:
    b = cpu_bench
    b.issue(CARD_A)
    b.sell(1)
    assert b.insert().accepted
    b.issue(CARD_B, kind="replacement")
    b.put_on_card(card_type=R, purchase_count=1)
    assert b.insert().accepted  # = : no credit, the account moves to card B
    b.hand_over(CARD_A)
    b.sell(2)
    assert not b.insert().accepted
    record = b.refusals().last_record
    assert record is not None
    assert (record.error, record.card_serial) == (int(E.CARD_SERIAL_MISMATCH), CARD_A)
    b.hand_over(CARD_B)  # the replacement buys on: its count is the meter's + 1
    b.put_on_card(card_type=R, purchase_count=2, credit=500)
    before = b.remaining()
    assert b.insert().accepted
    assert b.remaining() == before + Decimal("5.00")


@pytest.mark.bench
def test_card_command_refusals_keep_header_and_status_word(cpu_bench: CpuBench) -> None:
    """A card whose internal authentication fails in the ESAM (the card keyed by another
    office) is refused with code 5; the record keeps the refusing ESAM command's header and
    status word (VERIFY CARD, 6300), read over DL/T 645."""
    b = cpu_bench
    b.issue(CARD_A)
    b.sell(1)
    card = b.cards[CARD_A]
    state, _ = card._keys[layout.CARD_KEYS[1]]
    card._keys[layout.CARD_KEYS[1]] = (state, bytes(16))  # another office's internal key
    assert not b.insert().accepted
    record = b.refusals().last_record
    assert record is not None
    assert record.error == int(E.AUTHENTICATION_ERROR)
    assert record.command_header == bytes.fromhex("8088000018")
    assert record.response_status == 0x6300
    assert record.card_serial == CARD_A


@pytest.mark.bench
def test_forged_credit_and_another_customer_are_refused(cpu_bench: CpuBench) -> None:
    b = cpu_bench
    b.issue(CARD_A)
    b.sell(1)
    assert b.insert().accepted
    b.sell(2)
    with b.at_writer() as conn:  # ten times the credit, the office's MAC left as it was
        info = b.writer.open(conn)[2]
        assert info is not None
        from dataclasses import replace
        b.writer.write_raw_info(conn, replace(info, credit=info.credit * 10))
    before = b.remaining()
    assert not b.insert().accepted
    assert b.refusals().last_reason == E.MAC_ERROR
    b.issue(CARD_A, customer_no="123456789012")  # re-issued for another customer
    b.put_on_card(purchase_count=2)
    assert not b.insert().accepted
    assert b.refusals().last_reason == E.CUSTOMER_NUMBER_MISMATCH
    assert b.remaining() == before


@pytest.mark.bench
def test_register_overflow_and_hoarding_limit_refuse_the_credit(cpu_bench: CpuBench) -> None:
    b = cpu_bench
    b.issue(CARD_A)
    b.sell(1)
    assert b.insert().accepted
    b.put_on_card(purchase_count=2, credit=999_999)  # 9,999.99 more: over the hoarding limit
    assert not b.insert().accepted
    assert b.refusals().last_reason == E.HOARDING_LIMIT_EXCEEDED
    from rig.card_formats.interface import ParameterSet
    b.issue("C0C0C0C0C0C0C003", kind="parameter")  # hoarding limit none
    with b.at_writer() as conn:
        b.writer.write_parameters(conn, ParameterSet(
            meter_no=b.meter_no, version=1, key_revision=1, alarm1=1000, alarm2=500,
            overdraft_limit=0, hoarding_limit=0, power_limit_w=0))
    assert b.insert().accepted
    b.hand_over(CARD_A)
    before = b.remaining()
    b.put_on_card(purchase_count=2, credit=100_000_000)  # would pass 999,999.99
    assert not b.insert().accepted
    assert b.refusals().last_reason == E.HOARDING_LIMIT_EXCEEDED
    assert b.remaining() == before


@pytest.mark.bench
def test_key_update_card_moves_a_public_meter_to_the_private_state(
        public_bench: CpuBench) -> None:
    b = public_bench
    b.issue(CARD_A)
    b.sell(1)
    assert b.insert().accepted
    b.issue("D0D0D0D0D0D0D004", kind="key_change")
    with b.at_writer() as conn:
        b.writer.write_key_change(conn, b.meter_no, 0, 1)
    outcome = b.insert()
    assert outcome.accepted and "private" in outcome.message
    b.hand_over(CARD_A)  # the customer's public card is now refused ...
    b.sell(2)
    assert not b.insert().accepted
    assert b.refusals().last_reason == E.NOT_AUTHORISED
    b.issue(CARD_A, revision=1)  # ... until the office re-keys it for the private state
    b.revision = 1
    before = b.remaining()
    assert b.insert().accepted
    assert b.remaining() == before + Decimal("10.00")
