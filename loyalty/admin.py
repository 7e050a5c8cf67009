"""The loyalty app's support console, one module per domain (Django imports
this module; each domain registers its own models).

Balances are never edited in a form: "Adjust balance" and "Block card" are
separate views with a required reason, calling the same ledger service as the
API (``loyalty/ledger/admin.py``). The ledger and everything derived from it
are read-only.
"""

from loyalty.customers import admin as customers_admin  # noqa: F401
from loyalty.design import admin as design_admin  # noqa: F401
from loyalty.ledger import admin as ledger_admin  # noqa: F401
from loyalty.program import admin as program_admin  # noqa: F401
from loyalty.wallet import admin as wallet_admin  # noqa: F401
