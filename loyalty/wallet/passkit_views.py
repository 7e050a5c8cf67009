"""Customer-facing wallet downloads and the PassKit web service (stubs for now)."""

from django.http import Http404

from merchants.permissions import public_route


@public_route
def apple_pass(request, web_token: str):
    raise Http404("Apple Wallet is not available yet.")


@public_route
def google_save(request, web_token: str):
    raise Http404("Google Wallet is not available yet.")
