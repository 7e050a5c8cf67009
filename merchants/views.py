from django.views.generic import TemplateView

from .permissions import MerchantStaffRequiredMixin


class DashboardView(MerchantStaffRequiredMixin, TemplateView):
    template_name = "merchants/dashboard.html"
