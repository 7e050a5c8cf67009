"""The balance change message defaults to empty: the standard message, in the
customer's language (pass.strings). Designs still holding the old Russian
default, which every design got whether or not the merchant typed it, go back
to the default; any other text is the merchant's own and stays."""

from django.db import migrations, models

OLD_DEFAULT = "Баланс: %@"


def forwards(apps, schema_editor):
    CardDesign = apps.get_model("loyalty", "CardDesign")
    CardDesign.objects.filter(change_message=OLD_DEFAULT).update(change_message="")


def backwards(apps, schema_editor):
    CardDesign = apps.get_model("loyalty", "CardDesign")
    CardDesign.objects.filter(change_message="").update(change_message=OLD_DEFAULT)


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0008_card_merchant_created_idx"),
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
    ]
