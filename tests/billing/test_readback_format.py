"""The centre reads and verifies readbacks through the card format that wrote them, found in
a registry (the ``rig.readback_formats`` entry points, or registered at run time), not through
an import of card code: a second card format, with its own record layout and MAC scheme, has
its readbacks verified by the centre's key service like rig's own."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from rig.billing import BillingCentre, open_billing, readback_format
from rig.billing.readback_keys import ReadbackKeyService
from rig.card.readback_format import RIG_V1, record_from_fields
from rig.errors import BillingError
from tests.billing.api_helpers import KEY_REVISION, METER, clock, readback_json, seed

TAG = b"\xee"


@dataclass(frozen=True)
class HmacMaster:
    secret: bytes
    key_id: str = "toy-0001"


class HmacFormat:
    """A made-up card format: a tag byte, rig's record fields, and an HMAC-SHA256 tag."""

    name = "toy-hmac"
    record_size = 1 + RIG_V1.record_size + 16

    def accepts(self, raw: bytes) -> bool:
        return len(raw) == self.record_size and raw[:1] == TAG

    def fields(self, raw: bytes) -> dict[str, Any]:
        return RIG_V1.fields(raw[1:1 + RIG_V1.record_size])

    def mac_verifies(self, raw: bytes, mac_key: bytes) -> bool:
        return hmac.compare_digest(self.tag(raw[:-16], mac_key), raw[-16:])

    def mac_key(self, master: HmacMaster, meter_no: str, key_revision: int) -> bytes:
        return hmac.digest(master.secret, f"{meter_no}/{key_revision}".encode(), "sha256")

    def load_master(self, path: Any) -> HmacMaster:
        raise NotImplementedError  # not reached: the test hands the master over

    def default_master(self) -> HmacMaster:
        raise NotImplementedError

    def is_public_test_key(self, master: Any) -> bool:
        return False

    @staticmethod
    def tag(body: bytes, key: bytes) -> bytes:
        return hmac.digest(key, body, hashlib.sha256)[:16]

    def write(self, fields: dict[str, Any], master: HmacMaster) -> bytes:
        """What a meter of this format writes on the card."""
        body = TAG + record_from_fields(fields).to_bytes()
        return body + self.tag(body, self.mac_key(master, fields["meter_no"], KEY_REVISION))


MASTER = HmacMaster(b"k" * 32)
TOY = HmacFormat()


@pytest.fixture
def toy_centre(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[BillingCentre]:
    monkeypatch.setitem(readback_format._registered, TOY.name, TOY)
    keys = ReadbackKeyService(MASTER, fmt=TOY)
    c = open_billing(f"sqlite:///{tmp_path / 'b.sqlite'}", clock=clock(), readback_keys=keys)
    seed(c)
    yield c
    c.close()


def fields() -> dict[str, Any]:
    body = readback_json()
    body.pop("raw_hex", None)
    body["timestamp"] = datetime.fromisoformat(body["timestamp"])
    return body


def test_a_second_card_formats_readback_is_decoded_and_its_mac_verified(toy_centre) -> None:
    raw = TOY.write(fields(), MASTER)
    result = toy_centre.ingest_readback(None, raw=raw)
    assert result.meter_no == METER
    assert result.evidence["mac"]["verified_by_centre"] is True, result.evidence
    assert result.evidence["mac"]["key_id"] == "toy-0001"


def test_a_second_card_formats_forged_tag_is_not_believed(toy_centre) -> None:
    forged = TOY.write(fields(), HmacMaster(b"x" * 32))
    result = toy_centre.ingest_readback(None, raw=forged)
    assert result.evidence["mac"]["verified_by_centre"] is False
    assert "MAC does not verify" in result.evidence["mac"]["reason"]


def test_a_record_of_no_known_size_names_every_formats_size(monkeypatch) -> None:
    monkeypatch.setitem(readback_format._registered, TOY.name, TOY)
    with pytest.raises(BillingError, match=r"raw_hex: a readback record is 57 or 64 or 74 or 80 "
                                           r"or 95 bytes, got 10"):
        readback_format.format_for(bytes(10))


def test_rigs_own_format_is_found_through_its_entry_point() -> None:
    assert readback_format.default_format() is RIG_V1
    assert [f.name for f in readback_format._installed()] == ["esam-cpu-v1", "esam-running-v1",
                                                              "rig-v1", "sle4442-v1"]
