"""Trigram indexes for the dashboard's customer search (loyalty/customers/selectors.py):
a part of a name, an e-mail, a phone or a card number is found through a GIN index
(pg_trgm) instead of a scan of the merchant's customers.

PostgreSQL only. On SQLite (the zero-config laptop default) every operation here is a
no-op and the search stays a plain LIKE. The indexes are not in the models' state on
purpose: SQLite rebuilds a table from that state when a later migration alters it,
and it cannot create a GIN index.

The indexes are built CONCURRENTLY (the migration is not atomic), so enrolment and
purchases keep writing while they are built; a build that was interrupted leaves an
invalid index, which the next run drops and builds again. pg_trgm is a trusted
extension: the database's owner may create it, no superuser needed.

The name and e-mail indexes are on UPPER(column), the expression Django's
``icontains`` compares (pg_trgm folds case itself, but the index must match the
expression the query uses).
"""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations
from django.db.models.functions import Upper


class CreateTrigramExtension(TrigramExtension):
    """TrigramExtension, whose reverse is a no-op off PostgreSQL too (Django's asks pg_extension)."""

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def _indexes():
    return [
        ("customer", GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="customer_name_trgm")),
        ("customer", GinIndex(OpClass(Upper("email"), name="gin_trgm_ops"), name="customer_email_trgm")),
        ("customer", GinIndex(OpClass("phone", name="gin_trgm_ops"), name="customer_phone_trgm")),
        ("card", GinIndex(OpClass("number", name="gin_trgm_ops"), name="card_number_trgm")),
    ]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for model_name, index in _indexes():
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{index.name}"')
        schema_editor.add_index(apps.get_model("loyalty", model_name), index, concurrently=True)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for _model_name, index in _indexes():
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{index.name}"')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("loyalty", "0008_card_merchant_created_idx")]

    operations = [
        CreateTrigramExtension(),
        migrations.RunPython(forwards, backwards),
    ]
