from django.core.management.base import BaseCommand

from merchants.platform_roles import sync_platform_groups


class Command(BaseCommand):
    help = "Create the platform staff groups (support agent, support lead, platform admin) with their permissions."

    def handle(self, *args, **options) -> None:
        for name, count in sync_platform_groups().items():
            self.stdout.write(f"{name}: {count} permissions")
