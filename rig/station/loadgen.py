"""A vending station driven by a program: the load for concurrency tests, benches and the
kill campaign. It goes through :class:`BillingCentre` only, as a real station does.

One *presentation* is what happens when a customer's card is at the desk: if the card still
carries an unconfirmed purchase, its readback is uploaded first (here: a readback showing the
last issued sequence applied), then pending bank payments are vended, else a cash sale is made.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from decimal import Decimal

from rig.billing.busy import BillingBusy
from rig.billing.centre.errors import VendRefused
from rig.billing.centre.facade import BillingCentre
from rig.billing.currency import set_centre_currency
from rig.billing.types import ReadbackData, VendResult
from rig.credit_unit import CreditUnit

T0 = datetime(2024, 1, 1, tzinfo=UTC)
OPERATOR = "loadgen"
TARIFF = "LOAD"
CURRENCY = "EUR"  # of the centre, and of the bank statements the campaigns import


def meter_numbers(count: int, first: int = 900_000_000_000) -> list[str]:
    return [f"{first + i:012d}" for i in range(count)]


def prepare(centre: BillingCentre, *, meters: list[str], stations: list[str]) -> None:
    """Currency, tariff, cashier, stations, and one customer + meter + card per meter number."""
    set_centre_currency(centre, CURRENCY)
    centre.create_tariff(TARIFF, Decimal("0.2000"), T0)
    centre.register_operator(OPERATOR, "cashier")
    for st in stations:
        centre.register_station(st)
    for no in meters:
        centre.register_customer(f"Customer {no}", f"ACC-{no}")
        centre.register_meter(no, customer_account=f"ACC-{no}", profile="loadgen",
                              credit_unit=CreditUnit.MONEY_CENTS, tariff_code=TARIFF,
                              key_revision=1, commissioning_energy_wh=0, commissioned_at=T0)
        centre.issue_card(no, f"CARD-{no}")


def confirm_all(centre: BillingCentre, meter_no: str) -> None:
    """Upload a readback showing every purchase issued to the meter applied, MAC'd as the
    (emulated) meter does under its lab test readback key: the centre verifies it."""
    from rig.sim.meter_readback import meter_readback

    meter = centre.meter(meter_no)
    seq = meter.last_sequence
    data = ReadbackData(
        meter_no=meter_no, energy_wh=0, remaining=0, overdraft=0, purchase_count=seq,
        last_sequence=seq, cumulative_purchase=0, credit_unit=CreditUnit.MONEY_CENTS,
        relay_open=False, alarm_active=False, alarm_count=0, cutoff_count=0, tamper_count=0,
        power_down_count=0, timestamp=T0, tariff_version=1)
    centre.ingest_readback(data, raw=meter_readback(data, key_revision=meter.key_revision))


def present(centre: BillingCentre, meter_no: str, *, request_id: str, amount: Decimal,
            station: str, bank: bool = True, attempts: int = 20,
            operator: str = OPERATOR) -> VendResult | None:
    """One card presentation (see the module docstring). Returns the vend, or None if another
    station served this meter first and this one gave up after ``attempts`` tries.

    :class:`BillingBusy` (the lock wait ran out; nothing was written) is retried like a
    station operator would: every step is idempotent by request id.
    """
    for _ in range(attempts):
        try:
            if bank:
                v = _pending_payments(centre, meter_no, request_id, station)
                if v is not None:
                    return v
            return centre.vend(meter_no, amount, request_id=request_id, station=station,
                               operator=operator)
        except VendRefused as e:
            if e.reason != "unapplied_purchase":
                raise
            with contextlib.suppress(BillingBusy):  # the next attempt uploads it again
                confirm_all(centre, meter_no)
        except BillingBusy:
            pass
    return None


def _pending_payments(centre: BillingCentre, meter_no: str, request_id: str,
                      station: str) -> VendResult | None:
    """The bank vend of this presentation, or None when it is (or already was) a cash sale.

    A presentation uses one request id for both tries, so a station retrying one that ended
    in a cash sale (its reply lost, its process restarted) finds the id taken by that sale;
    the cash ``vend`` then replays it, or refuses if it was something else.
    """
    try:
        return centre.vend_pending_payments(meter_no, request_id=request_id, station=station,
                                            operator=OPERATOR)
    except VendRefused as e:
        if e.reason != "request_id_conflict":
            raise
        return None


def amount_for(step: int, seed: int) -> Decimal:
    """A deterministic amount (1.00 … 50.99) so a retried step asks for the same sale."""
    return Decimal(1 + (step * 7919 + seed * 104729) % 50) + Decimal((step * 31 + seed) % 100) / 100


def run_station(db_url: str, station: str, meters: list[str], steps: int, seed: int,
                bank: bool = True) -> list[tuple[str, int, str, str]]:
    """A station process/thread: ``steps`` presentations over ``meters`` in turn, from its own
    engine. Returns (meter, sequence, request id, tender) of each vend it made."""
    from rig.billing.centre.opening import open_billing

    centre = open_billing(db_url)
    made: list[tuple[str, int, str, str]] = []
    try:
        for i in range(steps):
            no = meters[(i + seed) % len(meters)]
            v = present(centre, no, request_id=f"{station}-{i}", amount=amount_for(i, seed),
                        station=station, bank=bank)
            if v is not None:
                made.append((no, v.sequence, v.request_id, v.tender))
    finally:
        centre.close()
    return made

