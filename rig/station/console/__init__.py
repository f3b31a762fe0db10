"""The vending console: the billing centre's web pages for cashiers, supervisors and
administrators (server-rendered, keyboard-first, no front-end build).

    from rig.station.console import create_console_app
    app = create_console_app(centre, station="DESK-1", writer=PcscCardWriter(...))
"""

from rig.station.console.app import create_console_app
from rig.station.console.writer import CardWriter, PcscCardWriter, WriteProblem

__all__ = ["CardWriter", "PcscCardWriter", "WriteProblem", "create_console_app"]
