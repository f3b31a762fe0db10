"""`rig sim --json` announces the receipt printer; other programs print on it (python-escpos
over TCP and over the pty), its paper state is set over the control channel and its status
answers, and what it cut reads back with a picture of the paper."""

from __future__ import annotations

import base64
import io
import subprocess

from escpos.printer import Network, Serial
from PIL import Image

from rig.bench.control import ControlClient
from tests.sim.test_rig_sim import rig_sim  # noqa: F401  (fixture)


def test_rig_sim_printer_serves_other_programs(
        rig_sim: tuple[subprocess.Popen[str], dict[str, str]]) -> None:  # noqa: F811
    _, parts = rig_sim
    assert parts["printer"].startswith("tcp://127.0.0.1:")
    host, port = parts["printer"].removeprefix("tcp://").split(":")
    control = ControlClient(parts["control"])
    try:
        net = Network(host, int(port), timeout=5)
        net.open()
        assert net.is_online() and net.paper_status() == 2
        net.charcode("CP858")
        net.textln("Total € 15.50")
        net.qr("RIG-VEND 7", native=True)
        net.cut()
        assert net.is_online()  # answered after the cut: the receipt is on the paper
        control.call("printer_state", paper_out=True)
        assert not net.is_online() and net.paper_status() == 0
        net.close()
        control.call("printer_state", paper_out=False)

        serial = Serial(parts["printer_port"], timeout=2)
        serial.open()
        serial.textln("over the serial port")
        serial.cut()
        assert serial.is_online()  # the status reply comes back over the pty too
        serial.close()

        reply = control.call("printer_receipts")
        first, second = reply["receipts"]
        assert first["lines"] == ["Total € 15.50"]
        assert first["codes"] == [{"kind": "qr", "data": "RIG-VEND 7"}]
        assert first["cut"] == "full" and second["lines"] == ["over the serial port"]
        assert reply["unknown"] == []
        png = Image.open(io.BytesIO(base64.b64decode(
            control.call("printer_png", index=0)["png"])))
        assert png.format == "PNG" and png.width == 576
        assert control.call("printer_receipts", since=2)["receipts"] == []
    finally:
        control.close()
