# SQLite (the quick start's database) has no NULLS NOT DISTINCT, so Django does not create the
# summaries' unique constraints with a nullable column there (check W047). These unique indexes
# stand in for them, on SQLite only: a NULL location (or month, or tier) is one value, as it is
# in the PostgreSQL constraints, and the refresh's upserts name them as their conflict targets
# (analytics.summaries.SQLITE_CONFLICT). PostgreSQL keeps its constraints; nothing runs there.
#
# A later migration that makes SQLite rebuild one of these tables (an AlterField there) drops
# indexes Django does not know of: it must create them again (the SQLite summaries test fails
# without them).

from django.db import migrations

INDEXES = {
    "daily_location_unique_sqlite": "analytics_dailylocationstats (merchant_id, coalesce(location_id, 0), day)",
    "customer_month_unique_sqlite": "analytics_customermonthstats (card_id, month, coalesce(location_id, 0))",
    "buyer_count_unique_sqlite": (
        "analytics_buyercount (merchant_id, coalesce(location_id, 0), kind, month, "
        "coalesce(prev_month, ''), coalesce(first_month, ''), coalesce(next_month, ''))"
    ),
    "tier_count_unique_sqlite": "analytics_tiercount (merchant_id, coalesce(tier_id, 0))",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for name, target in INDEXES.items():
            schema_editor.execute(f"CREATE UNIQUE INDEX {name} ON {target}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX {name}")


class Migration(migrations.Migration):

    dependencies = [
        ("analytics", "0009_summary_money_three_decimals"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
