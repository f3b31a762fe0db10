"""rig's top-level commands: where each one is and its line in `rig --help`.

Every command is built when a command line names it (rig.cli.lazy): `rig --help` builds none,
`rig profiles` only its own, and `rig billing` and `rig console` (SQLAlchemy, Alembic,
matplotlib) are imported only then. tests/cli/test_cli_startup.py keeps each summary equal to
the command's own help.
"""

from __future__ import annotations

LAZY_GROUPS = {"run": ("rig.cli.main:commands", "Run one full prepaid cycle (default: on an "
                       "emulated bench) and write its report."),
               "report": ("rig.cli.main:commands", "Render a run's Allure report (Allure 3) "
                          "and serve it on 127.0.0.1."),
               "sim": ("rig.cli.main:commands", "Start an emulated bench and serve it until "
                       "SIGINT/SIGTERM."),
               "profiles": ("rig.cli.main:commands", "List the meter profiles (yours, then "
                            "rig's shipped ones) and check each one."),
               "billing": ("rig.cli.billing:app", "Billing centre: customers, meters, tariffs, "
                           "vends, readbacks, audit, API."),
               "console": ("rig.cli.console:app", "The vending console of one station: "
                           "cashiers' web pages and its card writer."),
               "sts": ("rig.cli.sts:app", "STS tokens (IEC 62055-41): decoder keys, decode and "
                       "encode a 20-digit token."),
               "card": ("rig.cli.card:app", "Card formats: list them, replay a saved APDU "
                        "trace against a card or a meter."),
               "lab": ("rig.lab.cli:app", "A lab of many benches on labgrid: places, host, "
                       "recover, relay.")}
