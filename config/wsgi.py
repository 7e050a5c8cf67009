import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

# The POS purchase lane answers a till's plain accrual in front of Django's request cycle, and hands
# everything else to Django (loyalty/api/lane.py). Imported after Django is set up.
from loyalty.api.lane import PosPurchaseLane  # noqa: E402

application = PosPurchaseLane(django_application)
