"""The dashboard's customer list: search and keyset pagination (selectors.py),
the page (views.py)."""
