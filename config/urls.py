from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

from merchants.forms import AdminOTPAuthenticationForm

admin.site.site_header = _("Loyalty platform support")
admin.site.site_title = _("Loyalty support")
# Admin's log-in asks for the second factor (issue 13); staff without one are sent to set it up.
admin.site.login_form = AdminOTPAuthenticationForm
admin.site.login_template = "admin/otp_login.html"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard", permanent=False)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include("merchants.urls")),
    path("", include("loyalty.urls")),
    path("", include("campaigns.urls")),
    path("", include("analytics.urls")),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
