"""The cashier's page at the till (/dashboard/till/): a phone-sized page that
calls small JSON views authenticated by the session and CSRF, reusing the POS
API's validation, error shape and Idempotency-Key handling, and the same
services."""
