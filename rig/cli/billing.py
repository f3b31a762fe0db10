"""`rig billing …`: the billing centre for operators at a terminal, and its REST server.

Every command opens the database named by ``--db`` (or ``$RIG_BILLING_DB``; default the same
``sqlite:///billing.sqlite`` that :func:`rig.billing.open_billing` uses), calls one service
method and prints the outcome, acting as a named operator (:mod:`rig.cli.acting`). Bad input
prints the reason on stderr and exits 2, a refusal by the centre's rules exits 3, a database
that stayed locked too long (nothing was committed) exits 75 (EX_TEMPFAIL: run the same
command again); ``audit verify`` exits 1 when verification
fails (chain, checkpoints or ledger). Nothing here re-implements a billing rule.
"""


from __future__ import annotations

import typer

from rig.cli.billing_audit import audit_app
from rig.cli.billing_bank import bank_app
from rig.cli.billing_readback import readback_app
from rig.cli.billing_registry import cards_app, customers_app, meters_app, operators_app
from rig.cli.billing_report import report_app
from rig.cli.billing_serve import serve
from rig.cli.billing_sessions import session_app
from rig.cli.billing_sts import sts_app
from rig.cli.billing_tariffs import tariffs_app
from rig.cli.billing_tokens import token_app
from rig.cli.billing_vending import reprint, reverse, vend, vends_app

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Billing centre: customers, meters, tariffs, vends, readbacks, audit, API.")
for command in (vend, reverse, reprint, serve):
    app.command()(command)
for sub, name in ((vends_app, "vends"), (customers_app, "customers"), (meters_app, "meters"),
                  (cards_app, "cards"),
                  (tariffs_app, "tariffs"), (operators_app, "operators"),
                  (readback_app, "readback"), (audit_app, "audit"), (token_app, "token"),
                  (report_app, "report"), (bank_app, "bank"), (session_app, "session"),
                  (sts_app, "sts")):
    app.add_typer(sub, name=name)
