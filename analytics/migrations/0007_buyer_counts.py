# Buyer counts (analytics.models.BuyerCount) replace the memo of closed ranges
# (PeriodBuyers): filled here from the existing customer-month rows (a copy of
# analytics.summaries.buyer_counts_sql at the time of writing), so the pages count
# buyers right away, before the next nightly rebuild.

import django.db.models.deletion
from django.db import migrations, models

FILL = """
INSERT INTO analytics_buyercount (merchant_id, location_id, kind, month, prev_month, first_month, next_month, customers)
WITH scoped AS (
    SELECT merchant_id, NULL::bigint AS location_id, month, visits, first_any,
           lag(month) OVER w AS prev_month, lead(month) OVER w AS next_month
    FROM (SELECT merchant_id, card_id, month, sum(visits) AS visits,
                 min(month) OVER (PARTITION BY card_id) AS first_any
          FROM analytics_customermonthstats GROUP BY card_id, month, merchant_id) whole
    WINDOW w AS (PARTITION BY card_id ORDER BY month)
    UNION ALL
    SELECT merchant_id, location_id, month, visits, first_any,
           lag(month) OVER w AS prev_month, lead(month) OVER w AS next_month
    FROM (SELECT merchant_id, card_id, location_id, month, visits,
                 min(month) OVER (PARTITION BY card_id) AS first_any
          FROM analytics_customermonthstats) cm
    WHERE location_id IS NOT NULL
    WINDOW w AS (PARTITION BY card_id, location_id ORDER BY month)
), cells AS (
    SELECT merchant_id, location_id, month, prev_month,
           prev_month IS NULL AND visits = 1 AS single,
           CASE WHEN prev_month IS NULL AND visits = 1 THEN first_any END AS first_any,
           CASE WHEN prev_month IS NULL AND visits = 1 THEN next_month END AS next_month,
           count(*) AS customers
    FROM scoped GROUP BY 1, 2, 3, 4, 5, 6, 7
)
SELECT merchant_id, location_id, 'B' AS kind, month, prev_month,
       NULL::date AS first_month, NULL::date AS next_month, sum(customers) AS customers
FROM cells GROUP BY merchant_id, location_id, month, prev_month
UNION ALL
SELECT merchant_id, location_id, 'N', month, NULL, first_any, next_month, customers
FROM cells WHERE single
"""


def fill(apps, schema_editor):
    # The summaries are PostgreSQL's (AT TIME ZONE, window functions); elsewhere they are empty.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FILL)


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0006_period_buyers'),
        ('merchants', '0008_support_console'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='summarystate',
            name='past_version',
        ),
        migrations.CreateModel(
            name='BuyerCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('B', 'Buyers'), ('N', 'Single First')], max_length=1)),
                ('month', models.DateField()),
                ('prev_month', models.DateField(blank=True, null=True)),
                ('first_month', models.DateField(blank=True, null=True)),
                ('next_month', models.DateField(blank=True, null=True)),
                ('customers', models.IntegerField(default=0)),
                ('location', models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='merchants.location')),
                ('merchant', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='merchants.merchant')),
            ],
            options={
                'verbose_name': 'buyer count',
                'verbose_name_plural': 'buyer counts',
            },
        ),
        migrations.DeleteModel(
            name='PeriodBuyers',
        ),
        migrations.AddConstraint(
            model_name='buyercount',
            constraint=models.UniqueConstraint(fields=('merchant', 'location', 'kind', 'month', 'prev_month', 'first_month', 'next_month'), name='buyer_count_unique', nulls_distinct=False),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
