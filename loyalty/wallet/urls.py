"""Wallet routes: public customer links and card art, the PassKit web service
(mounted at render.PASSKIT_PATH, the pass's webServiceURL; the device appends
``v1/…``), and the dashboard's wallet pages."""

from django.urls import path, re_path

from loyalty.wallet import dashboard_views, passkit_views

SEGMENT = r"[^/]+"

urlpatterns = [
    path("wallet/apple/<str:web_token>.pkpass", passkit_views.apple_pass, name="wallet_apple_pass"),
    path("wallet/google/<str:web_token>/", passkit_views.google_save, name="wallet_google_save"),
    path(
        "wallet/art/<int:merchant_id>/v<int:version>/google-logo.png",
        passkit_views.google_logo,
        name="wallet_google_logo",
    ),
    path(
        "wallet/art/<int:merchant_id>/v<int:version>/stamps-<int:filled>-of-<int:total>.png",
        passkit_views.google_stamps,
        name="wallet_google_stamps",
    ),
    re_path(
        rf"^wallet/passkit/v1/devices/(?P<device_library_identifier>{SEGMENT})/registrations/"
        rf"(?P<pass_type_identifier>{SEGMENT})/(?P<serial_number>{SEGMENT})$",
        passkit_views.registration,
        name="wallet_passkit_registration",
    ),
    re_path(
        rf"^wallet/passkit/v1/devices/(?P<device_library_identifier>{SEGMENT})/registrations/"
        rf"(?P<pass_type_identifier>{SEGMENT})$",
        passkit_views.serial_numbers,
        name="wallet_passkit_serials",
    ),
    re_path(
        rf"^wallet/passkit/v1/passes/(?P<pass_type_identifier>{SEGMENT})/(?P<serial_number>{SEGMENT})$",
        passkit_views.latest_pass,
        name="wallet_passkit_pass",
    ),
    re_path(r"^wallet/passkit/v1/log$", passkit_views.device_log, name="wallet_passkit_log"),
    # Dashboard.
    path("dashboard/wallet/", dashboard_views.WalletSettingsView.as_view(), name="wallet_settings"),
    path("dashboard/wallet/apple/", dashboard_views.AppleCertificateUploadView.as_view(), name="wallet_apple_upload"),
    path(
        "dashboard/wallet/apple/remove/",
        dashboard_views.AppleCertificateRemoveView.as_view(),
        name="wallet_apple_remove",
    ),
    path("dashboard/wallet/google/", dashboard_views.GoogleCredentialsView.as_view(), name="wallet_google_upload"),
    path(
        "dashboard/wallet/google/remove/",
        dashboard_views.GoogleCredentialsRemoveView.as_view(),
        name="wallet_google_remove",
    ),
    path("dashboard/cards/<int:pk>/", dashboard_views.CardDetailView.as_view(), name="card_detail"),
]
