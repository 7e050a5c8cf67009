"""A partial index of the customers whose name holds ASCII punctuation, for a
name search by text that pg_trgm takes no trigram from ("%", "1%", "-"): such a
text is compared with every name, a scan of all of a merchant's customers (about
100 ms at a million). Only names with punctuation can hold it, so the search
adds the index's own condition (loyalty/customers/selectors.py,
``NAME_PUNCTUATION``) and reads only those names.

PostgreSQL only, built CONCURRENTLY, not in the models' state: as migration 0009
(a no-op on SQLite, where the search stays a plain LIKE).
"""

from django.db import migrations

INDEX = "customer_name_punctuation_idx"
# The same regular expression as selectors.NAME_PUNCTUATION: ASCII's punctuation (PostgreSQL's regular
# expressions take a range by code point), written as the query writes it (Django's "regex" lookup).
CREATE = (
    f'CREATE INDEX CONCURRENTLY "{INDEX}" ON loyalty_customer (merchant_id) '
    "WHERE name::text ~ '[!-/:-@[-`{-~]'"
)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX}"')
    schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("loyalty", "0018_walletpass_update_tag_unindexed")]

    operations = [migrations.RunPython(forwards, backwards)]
