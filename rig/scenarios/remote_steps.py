"""The bench steps of remote delivery (`rig run --medium remote`): the same scenarios, with
the card replaced by DL/T 645 security commands to the meter's ESAM.

"Issue the card" registers the remote account at the centre (where a card would be) and
proves an identity session with the meter; "write the vend" delivers it over DL/T 645
(:class:`rig.station.remote_vend.RemoteDelivery`); "insert the card" is a no-op delivery
outcome; the readback is the meter's running-information record read back with the ESAM's
MAC, which the centre verifies itself as it does a card's. What needs a card of some kind is
not applicable, said as such (docs/esam.md, "Remote prepayment").
"""

from __future__ import annotations

from decimal import Decimal

from rig.bench.bench import Bench
from rig.bench.courier import Delivery
from rig.billing.centre.facade import BillingCentre
from rig.billing.readback_format import format_for
from rig.billing.types import VendResult
from rig.card_formats.interface import CardKind, CardReadback, PurchaseOnCard
from rig.errors import RigError
from rig.esam.keys import LabKeyService
from rig.meter.dlt645.client import Dlt645Client, SecurityRefused
from rig.report.record import RunRecord
from rig.scenarios.steps import BenchSteps, attach_reconciliation
from rig.station.remote_vend import RemoteDelivery, account_serial
from rig.station.vending_station import UploadedReadback, readback_data

NO_CARD = "remote delivery has no card"
MEDIA = ("card", "remote")  # what the certification suite's --medium takes


class NotApplicable(RigError):
    """A step needs a card and the delivery is remote: the requirement does not apply (the
    certification suite reports it skipped with this reason, as a missing capability)."""


class NoCardStation:
    """Where the card station would be: every card operation is not applicable."""

    def __getattr__(self, name: str) -> object:
        raise NotApplicable(f"the card station's {name.replace('_', ' ')}: not applicable: "
                            f"{NO_CARD}")
SM4_NOTE = ("remote delivery over DL/T 645 security commands (03H) to the meter's ESAM; "
            "SM4 stands in for the unpublished SM1 (docs/esam.md)")


def remote_delivery(bench: Bench) -> RemoteDelivery:
    """The office's delivery to the bench's meter: its DL/T 645 client, the lab key service
    from the bench master key, the key state the profile's ESAM was commissioned in."""
    p = bench.profile
    if p.esam is None:
        raise NotApplicable(f"--medium remote: profile {p.name!r} has no [esam] section, so its "
                       "meter has no ESAM to deliver to over DL/T 645 (docs/esam.md)")
    client = getattr(bench.meter, "protocol", None)
    if not isinstance(client, Dlt645Client):
        raise RigError(f"--medium remote: profile {p.name!r} does not speak DL/T 645")
    return RemoteDelivery(client, LabKeyService.from_master(bench.master_key),
                          p.protocol.address, key_state=p.esam.key_state)


class RemoteSteps(BenchSteps):
    """BenchSteps whose medium is DL/T 645 to the ESAM instead of a card."""

    def __init__(self, bench: Bench, billing: BillingCentre, record: RunRecord) -> None:
        super().__init__(bench, billing, record)
        self.delivery = remote_delivery(bench)
        self.customer_no = f"{int(self.tag, 16) % 10**12:012d}"
        self.card_serial = account_serial(self.customer_no)  # the account, where a card is
        self.station = NoCardStation()  # type: ignore[assignment]
        self._pending: VendResult | None = None  # written (sold), not yet applied
        self._outcome: Delivery | None = None  # the last delivery, for the next "insertion"
        record.attach("delivery medium", SM4_NOTE + f"; key service: {self.delivery.keys.label}")

    def issue_card(self) -> str:
        """Register the remote account for the meter, and open (and close) an identity
        session with its ESAM: the meter number the session was authenticated for."""
        self.billing.issue_card(self.meter_no, self.card_serial)
        with self.bench.clock_slowed(), self.delivery.session() as s:
            s.purse()
        return self.meter_no

    def write_vend(self, vend: VendResult) -> int:
        """Deliver ``vend`` over DL/T 645 (open account or recharge) and tell the centre.
        A purchase the meter refuses stays pending, as a refused card keeps its purchase:
        the next ``insert_into_meter`` delivers it again."""
        self._pending = vend
        self._outcome = self._deliver()
        self.billing.mark_written(vend.vend_id)
        return vend.sequence

    def _deliver(self) -> Delivery:
        vend = self._pending
        if vend is None:
            return Delivery("meter", f"{NO_CARD}: nothing pending to deliver")
        try:
            with self.bench.clock_slowed():  # the session and its timeout run in real time
                done = self.delivery.deliver(vend)
        except SecurityRefused as e:
            return Delivery("meter", f"refused over DL/T 645: {', '.join(e.reasons)}",
                            accepted=False)
        self._pending = None
        applied = None if done.command == "already applied" else done.sequence
        return Delivery("meter", done.message, applied_sequence=applied)

    def insert_into_meter(self, *, expect_accepted: bool = True) -> Delivery:
        """What the last delivery did (a purchase the meter refused is delivered again);
        a card the meter is meant to refuse has no remote counterpart."""
        if not expect_accepted:
            raise NotApplicable(f"inserting a card the meter may refuse: not applicable: "
                                f"{NO_CARD}")
        outcome, self._outcome = self._outcome, None
        if outcome is None or not outcome.accepted:
            outcome = self._deliver()
        if not outcome.accepted:
            raise RigError(f"the meter refused the remote purchase: {outcome.meter_message}")
        return outcome

    def buy(self, amount: Decimal) -> tuple[VendResult, Delivery]:
        """Vend and deliver: the meter's refusal (its SERR reasons) is the delivery's."""
        vend = self.vend(amount)
        self.write_vend(vend)
        outcome, self._outcome = self._outcome, None
        assert outcome is not None
        return vend, outcome

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
