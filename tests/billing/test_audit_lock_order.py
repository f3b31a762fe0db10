"""The audit chain's lock is the last lock a transaction takes, so it cannot close a deadlock.

Found by the concurrent kill campaign on PostgreSQL: a readback ingestion took the chain's
advisory lock at its first audit event and then waited for a vend row that a station marking
that vend written had locked — while the station waited for the advisory lock.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, select, text

from rig.billing import models as m
from rig.billing.audit import AUDIT_CHAIN_LOCK
from rig.billing.centre import open_billing
from rig.billing.types import VendStatus
from rig.station import loadgen

WAITING = text("SELECT count(*) FROM pg_stat_activity "
               "WHERE datname = current_database() AND wait_event_type = 'Lock'")


@pytest.mark.parametrize("billing_url", ["postgresql"], indirect=True)
def test_readback_blocked_on_a_vend_row_holds_no_audit_lock(billing_url: str) -> None:
    no = loadgen.meter_numbers(1)[0]
    failures: list[BaseException] = []
    with open_billing(billing_url) as centre:
        loadgen.prepare(centre, meters=[no], stations=["S1"])
        sale = loadgen.present(centre, no, request_id="R-1", amount=Decimal("5.00"),
                               station="S1", bank=False)
        assert sale is not None

        def ingest() -> None:
            try:
                loadgen.confirm_all(centre, no)
            except BaseException as e:  # reported by the test thread below
                failures.append(e)

        other = create_engine(billing_url)
        try:
            with other.connect() as station, other.connect() as observer:
                # A station marking the vend written: it holds the vend row ...
                station.execute(select(m.Vend.id).where(m.Vend.id == sale.vend_id)
                                .with_for_update())
                reader = threading.Thread(target=ingest)
                reader.start()
                deadline = time.monotonic() + 20
                while observer.execute(WAITING).scalar() == 0:  # the readback waits for it
                    assert time.monotonic() < deadline, "the readback never reached the row"
                    time.sleep(0.02)
                # ... and then appends its audit event. Had the waiting readback taken the
                # chain's lock already, this would be a deadlock (PostgreSQL aborts one side).
                station.execute(text("SET LOCAL lock_timeout = '10s'"))
                station.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                {"key": AUDIT_CHAIN_LOCK})
                station.commit()
                reader.join(30)
        finally:
            other.dispose()
        assert not failures, failures
        assert centre.vend_by_id(sale.vend_id).status == VendStatus.CONFIRMED
        assert centre.verify_audit_chain().ok
