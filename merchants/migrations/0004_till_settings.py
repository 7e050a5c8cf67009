from decimal import Decimal

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("merchants", "0003_merchant_slug_alias"),
    ]

    operations = [
        migrations.AddField(
            model_name="merchant",
            name="till_max_bill",
            field=models.DecimalField(
                decimal_places=3, default=Decimal("100000"), max_digits=12, verbose_name="largest usual bill"
            ),
        ),
        migrations.AddField(
            model_name="merchant",
            name="cashiers_can_refund",
            field=models.BooleanField(default=False, verbose_name="cashiers may refund past purchases"),
        ),
    ]
