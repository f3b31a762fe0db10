"""The bench steps of remote delivery (`rig run --medium remote`): the same scenarios, with
the card replaced by DL/T 645 security commands to the meter's ESAM.

"Issue the card" registers the remote account at the centre (where a card would be) and
proves an identity session with the meter; "write the vend" sells it to the account (pending,
as a purchase on a card is); "insert the card" delivers it over DL/T 645
(:class:`rig.station.remote_vend.RemoteDelivery`), and inserting it again presents the same
purchase again (a recharge with the same purchase count, which the meter must refuse as a
repeated recharge); the readback is the meter's running-information record read back with the
ESAM's MAC, which the centre verifies itself as it does a card's. A card the meter must refuse
has its remote counterpart: re-issued for another meter, the account's purchase goes with that
meter's identity (the meter refuses the identity authentication); over the hoarding limit or
with a count gap, the meter refuses the recharge (its SERR bit, translated to the card error
code by :mod:`rig.scenarios.remote_refusals`). What needs a card of some kind (reading or
forging the card's file, another card kind, a supply cut timed to a card command) is not
applicable, said as such (docs/esam.md, "Remote prepayment").
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from rig.bench.bench import Bench
from rig.bench.control import ControlClient
from rig.bench.courier import Delivery
from rig.billing.centre.facade import BillingCentre
from rig.billing.readback_format import format_for
from rig.billing.types import VendResult
from rig.card_formats.interface import CardKind, CardReadback, PurchaseOnCard
from rig.errors import RigError
from rig.esam.keys import LabKeyService
from rig.meter.dlt645 import security as sec
from rig.meter.dlt645.client import Dlt645Client, SecurityRefused
from rig.report.record import RunRecord
from rig.scenarios.remote_refusals import RemoteMeterView, RemoteRefusal, card_code
from rig.scenarios.steps import BenchSteps, attach_reconciliation
from rig.station.remote_vend import RemoteDelivery, account_serial, customer_of
from rig.station.vending_station import UploadedReadback, readback_data

NO_CARD = "remote delivery has no card"
MEDIA = ("card", "remote")  # what the certification suite's --medium takes
SM4_NOTE = ("remote delivery over DL/T 645 security commands (03H) to the meter's ESAM; "
            "SM4 stands in for the unpublished SM1 (docs/esam.md)")


class NotApplicable(RigError):
    """A step needs a card and the delivery is remote: the requirement does not apply (the
    certification suite reports it skipped with this reason, as a missing capability)."""


class RemoteStation:
    """Where the card station would be. Re-issuing the account's "card" for another meter
    (or customer) re-addresses its purchases, the remote counterpart of a card written for
    another meter; every other card operation is not applicable."""

    def __init__(self, steps: RemoteSteps) -> None:
        self._steps = steps

    def personalise(self, transport: object, *, card_serial: str, meter_no: str,
                    key_revision: int, kind: CardKind = CardKind.USER,
                    customer_no: str | None = None) -> None:
        """The account's purchases from now on go to ``meter_no`` (its identity: the
        dispersion factor the office authenticates with) for ``customer_no``."""
        s = self._steps
        if kind is not CardKind.USER or card_serial != s.card_serial:
            raise NotApplicable(f"the card station's personalise as a {kind.value} card: "
                                f"not applicable: {NO_CARD}")
        s.addressed_meter = meter_no
        s.addressed_customer = customer_no or s.customer_no

    def __getattr__(self, name: str) -> object:
        raise NotApplicable(f"the card station's {name.replace('_', ' ')}: not applicable: "
                            f"{NO_CARD}")


class NoCardSessionControl:
    """The emulated bench's control channel, without what times an event to a card command
    (a supply cut during the next card session): under remote delivery there is none."""

    def __init__(self, inner: ControlClient) -> None:
        self._inner = inner

    def call(self, op: str, **params: Any) -> dict[str, Any]:
        if op == "meter_power" and params.get("during") is not None:
            raise NotApplicable(f"a supply cut {params['during']} of a card session: not "
                                f"applicable: {NO_CARD}")
        return self._inner.call(op, **params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def remote_delivery(bench: Bench, meter_no: str | None = None) -> RemoteDelivery:
    """The office's delivery to the bench's meter: its DL/T 645 client, the lab key service
    from the bench master key, the key state the profile's ESAM was commissioned in
    (``meter_no``: the identity the office authenticates with, default the meter's own)."""
    p = bench.profile
    if p.esam is None:
        raise NotApplicable(f"--medium remote: profile {p.name!r} has no [esam] section, so its "
                            "meter has no ESAM to deliver to over DL/T 645 (docs/esam.md)")
    client = getattr(bench.meter, "protocol", None)
    if not isinstance(client, Dlt645Client):
        raise RigError(f"--medium remote: profile {p.name!r} does not speak DL/T 645")
    return RemoteDelivery(client, LabKeyService.from_master(bench.master_key),
                          meter_no or p.protocol.address, key_state=p.esam.key_state)


class RemoteSteps(BenchSteps):
    """BenchSteps whose medium is DL/T 645 to the ESAM instead of a card."""

    def __init__(self, bench: Bench, billing: BillingCentre, record: RunRecord) -> None:
        super().__init__(bench, billing, record)
        self.delivery = remote_delivery(bench)
        self.customer_no = f"{int(self.tag, 16) % 10**12:012d}"
        self.card_serial = account_serial(self.customer_no)  # the account, where a card is
        self.station = RemoteStation(self)  # type: ignore[assignment]
        self.addressed_meter = self.meter_no  # where the account's purchases go
        self.addressed_customer = self.customer_no
        self.refusals: list[RemoteRefusal] = []  # the security commands the meter refused
        self.meter = RemoteMeterView(bench, self.refusals)
        if bench.sim is not None:
            bench.sim = NoCardSessionControl(bench.sim)  # type: ignore[assignment]
        self._pending: VendResult | None = None  # sold, not yet applied
        self._applied: VendResult | None = None  # the last purchase the meter applied
        record.attach("delivery medium", SM4_NOTE + f"; key service: {self.delivery.keys.label}")

    def issue_card(self) -> str:
        """Register the remote account for the meter, and open (and close) an identity
        session with its ESAM: the meter number the session was authenticated for."""
        self.billing.issue_card(self.meter_no, self.card_serial)
        with self.bench.clock_slowed(), self.delivery.session() as s:
            s.purse()
        return self.meter_no

    def write_vend(self, vend: VendResult) -> int:
        """The vend sold to the account, to be delivered at the next ``insert_into_meter``
        (as a card carries its purchase to the meter); the centre is told it is written."""
        self._pending = vend
        self.billing.mark_written(vend.vend_id)
        return vend.sequence

    def _refused(self, e: SecurityRefused) -> Delivery:
        """A refusal the meter answered: recorded (SERR and its card error code), and the
        delivery's outcome."""
        refusal = RemoteRefusal(self.bench.now(), e.error_word, card_code(
            e.error_word, other_meter=self.addressed_meter != self.meter_no))
        self.refusals.append(refusal)
        return Delivery("meter", f"refused over DL/T 645: {refusal.reasons} (card error "
                        f"{int(refusal.code)})", accepted=False)

    def _addressed(self) -> RemoteDelivery:
        if self.addressed_meter == self.meter_no:
            return self.delivery
        other = remote_delivery(self.bench, self.addressed_meter)
        other.key_state = self.delivery.key_state
        return other

    def _deliver(self, vend: VendResult) -> Delivery:
        """Deliver ``vend`` (to the meter and customer the account is addressed to)."""
        if self.addressed_customer != customer_of(vend.card_serial):
            vend = replace(vend, card_serial=account_serial(self.addressed_customer))
        try:
            with self.bench.clock_slowed():  # the session and its timeout run in real time
                done = self._addressed().deliver(vend)
        except SecurityRefused as e:
            return self._refused(e)
        self._pending = None
        self._applied = vend
        applied = None if done.command == "already applied" else done.sequence
        return Delivery("meter", done.message, applied_sequence=applied)

    def _present_again(self, vend: VendResult) -> Delivery:
        """The applied purchase presented again, as a card inserted again presents its
        purchase: a recharge with the same purchase count (fresh MACs), which the meter must
        refuse as a repeated recharge and credit nothing."""
        customer = self.addressed_customer
        try:
            with self.bench.clock_slowed(), self._addressed().session() as s:
                s.purchase(vend.credit, vend.sequence, customer, open_account=False)
        except SecurityRefused as e:
            if e.error_word == sec.SERR_REPEATED_RECHARGE:
                return Delivery("meter", f"purchase #{vend.sequence} presented again: refused "
                                "over DL/T 645 as a repeated recharge, nothing credited")
            return self._refused(e)
        return Delivery("meter", f"purchase #{vend.sequence} presented again: the meter "
                        "accepted the recharge again", applied_sequence=vend.sequence)

    def insert_into_meter(self, *, expect_accepted: bool = True) -> Delivery:
        """Deliver the pending purchase; with none pending, present the last applied one again
        (a card inserted again). A refusal is the meter's SERR answer."""
        if self._pending is not None:
            outcome = self._deliver(self._pending)
        elif self._applied is not None:
            outcome = self._present_again(self._applied)
        else:
            outcome = Delivery("meter", f"{NO_CARD}: nothing to deliver")
        if expect_accepted and not outcome.accepted:
            raise RigError(f"the meter refused the remote purchase: {outcome.meter_message}")
        return outcome

    def buy(self, amount: Decimal) -> tuple[VendResult, Delivery]:
        """Vend and deliver: the meter's refusal (its SERR reasons) is the delivery's."""
        vend = self.vend(amount)
        self.write_vend(vend)
        return vend, self.insert_into_meter(expect_accepted=False)

    def card_to_writer(self) -> None:
        """Nothing to carry: the readback is read over DL/T 645."""

    def read_readback(self) -> CardReadback:
        with self.bench.clock_slowed():
            raw = self.delivery.running_record()
        return CardReadback(self.card_serial, raw, format_for(raw).fields(raw))

    def upload_readback(self) -> UploadedReadback:
        readback = self.read_readback()
        result = self.billing.ingest_readback(  # type: ignore[attr-defined]
            readback_data(readback), card_serial=readback.card_serial, raw=readback.raw)
        attach_reconciliation(self.record, result.evidence)
        return UploadedReadback(readback, result)

    def lacks_kind(self, kind: CardKind) -> bool:
        with self.record.step(f"{kind.value} card"):
            self.record.measure(f"{kind.value} card", f"not applicable: {NO_CARD}")
        return True

    def personalise_as(self, kind: CardKind) -> None:
        raise NotApplicable(f"{kind.value} card: not applicable: {NO_CARD}")

    def read_purchase(self) -> PurchaseOnCard | None:
        raise NotApplicable(f"reading the purchase off a card: not applicable: {NO_CARD}")

    def forge_purchase(self, genuine: PurchaseOnCard) -> None:
        raise NotApplicable(f"forging a card: not applicable: {NO_CARD}")


def bench_steps(bench: Bench, billing: BillingCentre, record: RunRecord,
                medium: str = "card") -> BenchSteps:
    """The steps of ``medium``: a card (BenchSteps) or remote delivery (RemoteSteps)."""
    if medium not in MEDIA:
        raise RigError(f"--medium {medium!r}: {' or '.join(MEDIA)}")
    kind = RemoteSteps if medium == "remote" else BenchSteps
    return kind(bench, billing, record)
