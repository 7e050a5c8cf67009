"""The audit log stays append-only with one narrow exception (issue 13, erasure):
an UPDATE passes only while the transaction-local setting merchants.audit_redaction
is 'on' (set by merchants.audit.redact_personal_data inside the erasure's
transaction, and switched off again right after), and then only if it changes
nothing but personal values in ``before``/``after`` (keys name, phone, email,
birthday) to the marker "[redacted]", and the label to "#<target id>". Any other
UPDATE, and every DELETE, is refused as before."""

from django.db import migrations

REDACTION_FUNCTION = """
CREATE OR REPLACE FUNCTION merchants_audit_json_redacted(old_value jsonb, new_value jsonb) RETURNS boolean AS $$
    SELECT CASE
        WHEN old_value IS NULL OR new_value IS NULL OR jsonb_typeof(old_value) <> 'object'
             OR jsonb_typeof(new_value) <> 'object'
            THEN old_value IS NOT DISTINCT FROM new_value
        ELSE NOT EXISTS (
            SELECT 1
            FROM jsonb_each(old_value) AS o FULL JOIN jsonb_each(new_value) AS n ON o.key = n.key
            WHERE o.key IS NULL OR n.key IS NULL
               OR (o.value <> n.value
                   AND NOT (o.key IN ('name', 'phone', 'email', 'birthday') AND n.value = '"[redacted]"'::jsonb))
        )
    END;
$$ LANGUAGE sql IMMUTABLE;

CREATE OR REPLACE FUNCTION merchants_audit_forbid_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND coalesce(current_setting('merchants.audit_redaction', true), '') = 'on'
       AND NEW.id = OLD.id
       AND NEW.created_at IS NOT DISTINCT FROM OLD.created_at
       AND NEW.merchant_id IS NOT DISTINCT FROM OLD.merchant_id
       AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id
       AND NEW.actor_label IS NOT DISTINCT FROM OLD.actor_label
       AND NEW.ip_address IS NOT DISTINCT FROM OLD.ip_address
       AND NEW.source IS NOT DISTINCT FROM OLD.source
       AND NEW.action IS NOT DISTINCT FROM OLD.action
       AND NEW.target_type IS NOT DISTINCT FROM OLD.target_type
       AND NEW.target_id IS NOT DISTINCT FROM OLD.target_id
       AND NEW.reason IS NOT DISTINCT FROM OLD.reason
       AND (NEW.target_label = OLD.target_label OR NEW.target_label = '#' || OLD.target_id)
       AND merchants_audit_json_redacted(OLD.before, NEW.before)
       AND merchants_audit_json_redacted(OLD.after, NEW.after)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'table % is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""

STRICT_FUNCTION = """
CREATE OR REPLACE FUNCTION merchants_audit_forbid_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
DROP FUNCTION IF EXISTS merchants_audit_json_redacted(jsonb, jsonb);
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REDACTION_FUNCTION, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(STRICT_FUNCTION, params=None)


class Migration(migrations.Migration):
    dependencies = [("merchants", "0009_authenticator_device")]

    operations = [migrations.RunPython(forwards, backwards)]
