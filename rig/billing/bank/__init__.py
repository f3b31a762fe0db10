"""Bank link: import customer payments from statements (camt.053, CSV) as credit vended at
the next card presentation, returns and reversals as cancellations (or debts), and export
direct-debit requests (pain.008) for auto-payment."""

from rig.billing.bank.debits import (
    Creditor,
    DebitExport,
    MandateInfo,
    check_iban,
    export_debits,
    register_mandate,
    set_mandate_active,
)
from rig.billing.bank.ledger import (
    RETURN_RECOVERY_PERCENT,
    ImportResult,
    PaymentInfo,
    assign_payment,
    import_statement,
    payments,
)
from rig.billing.bank.read import read_statement
from rig.billing.bank.statement import Entry, Statement, StatementError

__all__ = [
    "RETURN_RECOVERY_PERCENT",
    "Creditor",
    "DebitExport",
    "Entry",
    "ImportResult",
    "MandateInfo",
    "PaymentInfo",
    "Statement",
    "StatementError",
    "assign_payment",
    "check_iban",
    "export_debits",
    "import_statement",
    "payments",
    "read_statement",
    "register_mandate",
    "set_mandate_active",
]
