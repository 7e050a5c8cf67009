"""One login, several merchants (issue 12): a user's merchant and role move into
Membership rows. A deactivated member of a merchant (``is_active`` off on the user)
becomes an inactive membership and keeps a login that other merchants may use."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def copy_memberships(apps, schema_editor):
    User = apps.get_model("merchants", "User")
    Membership = apps.get_model("merchants", "Membership")
    staff = User.objects.filter(merchant__isnull=False)
    Membership.objects.bulk_create(
        Membership(
            user_id=u.pk, merchant_id=u.merchant_id, role=u.role, is_active=u.is_active, created_at=u.date_joined
        )
        for u in staff
    )
    staff.filter(is_active=False).update(is_active=True)


def copy_back(apps, schema_editor):
    User = apps.get_model("merchants", "User")
    Membership = apps.get_model("merchants", "Membership")
    for m in Membership.objects.order_by("-is_active", "created_at", "pk"):
        User.objects.filter(pk=m.user_id, merchant__isnull=True).update(
            merchant_id=m.merchant_id, role=m.role, is_active=m.is_active
        )


class Migration(migrations.Migration):
    dependencies = [
        ("merchants", "0005_onboarding_marks"),
    ]

    operations = [
        migrations.CreateModel(
            name="Membership",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "role",
                    models.CharField(
                        choices=[("owner", "Owner"), ("marketer", "Marketer"), ("cashier", "Cashier")],
                        max_length=16,
                        verbose_name="role",
                    ),
                ),
                ("is_active", models.BooleanField(default=True, verbose_name="active")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "verbose_name": "team membership",
                "verbose_name_plural": "team memberships",
            },
        ),
        migrations.AddField(
            model_name="membership",
            name="merchant",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="memberships", to="merchants.merchant"
            ),
        ),
        migrations.AddField(
            model_name="membership",
            name="user",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="memberships", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddConstraint(
            model_name="membership",
            constraint=models.UniqueConstraint(fields=("user", "merchant"), name="membership_one_per_merchant"),
        ),
        migrations.AddConstraint(
            model_name="membership",
            constraint=models.CheckConstraint(
                condition=models.Q(("role", ""), _negated=True), name="membership_has_role"
            ),
        ),
        migrations.RunPython(copy_memberships, copy_back),
        migrations.RemoveConstraint(
            model_name="user",
            name="merchant_staff_not_platform_staff",
        ),
        migrations.RemoveConstraint(
            model_name="user",
            name="merchant_staff_have_role",
        ),
        migrations.RemoveField(
            model_name="user",
            name="merchant",
        ),
        migrations.RemoveField(
            model_name="user",
            name="role",
        ),
    ]
