"""Two wallet fixes of issue 8.

- The balance change message defaults to empty: the standard message, in the
  customer's language (pass.strings). Designs still holding the old Russian
  default, which every design got whether or not the merchant typed it, go
  back to the default; any other text is the merchant's own and stays.
- Pass dates: marking a change truncated updated_at in the merchant's time
  zone, so passes of merchants east of UTC ran hours (or days) ahead. Those
  move back to now; their devices hold a Last-Modified later than now, which
  the web service ignores, so they fetch the pass again."""

from django.db import migrations, models
from django.utils import timezone

OLD_DEFAULT = "Баланс: %@"


def forwards(apps, schema_editor):
    CardDesign = apps.get_model("loyalty", "CardDesign")
    CardDesign.objects.filter(change_message=OLD_DEFAULT).update(change_message="")


def pull_future_pass_dates_back(apps, schema_editor):
    WalletPass = apps.get_model("loyalty", "WalletPass")
    now = timezone.now().replace(microsecond=0)  # whole seconds, as updated_at holds
    WalletPass.objects.filter(updated_at__gt=now).update(updated_at=now)


def backwards(apps, schema_editor):
    CardDesign = apps.get_model("loyalty", "CardDesign")
    CardDesign.objects.filter(change_message="").update(change_message=OLD_DEFAULT)


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0009_customer_search_trigram_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="carddesign",
            name="change_message",
            field=models.CharField(
                blank=True,
                default="",
                help_text="%@ is replaced by the new balance.",
                max_length=100,
                verbose_name="message when the balance changes",
            ),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RunPython(pull_future_pass_dates_back, migrations.RunPython.noop),
    ]
