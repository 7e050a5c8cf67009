from django.urls import path

from loyalty.wallet import passkit_views

urlpatterns = [
    path("wallet/apple/<str:web_token>.pkpass", passkit_views.apple_pass, name="wallet_apple_pass"),
    path("wallet/google/<str:web_token>/", passkit_views.google_save, name="wallet_google_save"),
]
