from django.urls import path

from . import views

urlpatterns = [
    # Public: sign-up, log in and out, password reset, invitation links.
    path("signup/", views.SignUpView.as_view(), name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("reset/done/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("account/two-factor/", views.TwoFactorView.as_view(), name="two_factor"),
    path("invite/<str:token>/", views.InvitationAcceptView.as_view(), name="invitation_accept"),
    # Dashboard.
    path("dashboard/", views.DashboardView.as_view(), name="dashboard"),
    path("dashboard/switch/", views.MerchantSwitchView.as_view(), name="merchant_switch"),
    path("dashboard/settings/", views.SettingsView.as_view(), name="merchant_settings"),
    path("dashboard/profile/", views.BusinessProfileView.as_view(), name="business_profile"),
    path("dashboard/settings/safeguards/", views.SafeguardsView.as_view(), name="safeguards"),
    path("dashboard/locations/", views.LocationListView.as_view(), name="location_list"),
    path("dashboard/locations/new/", views.LocationCreateView.as_view(), name="location_create"),
    path("dashboard/locations/<int:pk>/edit/", views.LocationUpdateView.as_view(), name="location_edit"),
    path(
        "dashboard/locations/<int:pk>/deactivate/",
        views.LocationSetActiveView.as_view(is_active=False),
        name="location_deactivate",
    ),
    path(
        "dashboard/locations/<int:pk>/activate/",
        views.LocationSetActiveView.as_view(is_active=True),
        name="location_activate",
    ),
    path("dashboard/getting-started/web-card-only/", views.WebCardOnlyView.as_view(), name="onboarding_web_card_only"),
    path("dashboard/staff/", views.StaffListView.as_view(), name="staff_list"),
    path("dashboard/staff/invite/", views.InvitationCreateView.as_view(), name="invitation_create"),
    path(
        "dashboard/staff/invitations/<int:pk>/revoke/", views.InvitationRevokeView.as_view(), name="invitation_revoke"
    ),
    path(
        "dashboard/staff/<int:pk>/deactivate/",
        views.StaffSetActiveView.as_view(is_active=False),
        name="staff_deactivate",
    ),
    path("dashboard/staff/<int:pk>/role/", views.StaffRoleView.as_view(), name="staff_role"),
    path(
        "dashboard/staff/invitations/<int:pk>/resend/", views.InvitationResendView.as_view(), name="invitation_resend"
    ),
    path("dashboard/staff/<int:pk>/activate/", views.StaffSetActiveView.as_view(is_active=True), name="staff_activate"),
    path("dashboard/audit/", views.AuditLogView.as_view(), name="audit_log"),
    path("dashboard/api-keys/", views.ApiKeyListView.as_view(), name="api_key_list"),
    path("dashboard/api-keys/new/", views.ApiKeyCreateView.as_view(), name="api_key_create"),
    path("dashboard/api-keys/<int:pk>/revoke/", views.ApiKeyRevokeView.as_view(), name="api_key_revoke"),
]
