"""Make the ledger append-only in the database itself: any UPDATE or DELETE of
a ledger entry (or of an immutable program version) raises. PostgreSQL only;
on SQLite (the zero-config laptop default) this is a no-op and the model-level
guards remain. TRUNCATE (used by test flushes) is statement-level and is not
blocked."""

from django.db import migrations

FORBID_FUNCTION = """
CREATE OR REPLACE FUNCTION loyalty_forbid_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""

TABLES = ["loyalty_ledgerentry", "loyalty_programversion"]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FORBID_FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION loyalty_forbid_change();"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
    schema_editor.execute("DROP FUNCTION IF EXISTS loyalty_forbid_change();")


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
