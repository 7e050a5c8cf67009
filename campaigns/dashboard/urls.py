from django.urls import path

from . import views

ACTIONS = ("send", "activate", "pause", "resume", "cancel")

urlpatterns = [
    path("dashboard/campaigns/", views.CampaignListView.as_view(), name="campaign_list"),
    path("dashboard/campaigns/new/", views.CampaignCreateView.as_view(), name="campaign_create"),
    path("dashboard/campaigns/settings/", views.CampaignSettingsView.as_view(), name="campaign_settings"),
    path("dashboard/campaigns/reviews/", views.FeedbackListView.as_view(), name="campaign_feedback"),
    path("dashboard/campaigns/<int:pk>/", views.CampaignDetailView.as_view(), name="campaign_detail"),
    path("dashboard/campaigns/<int:pk>/edit/", views.CampaignEditView.as_view(), name="campaign_edit"),
    path("dashboard/campaigns/<int:pk>/progress/", views.CampaignProgressView.as_view(), name="campaign_progress"),
    *[
        path(
            f"dashboard/campaigns/<int:pk>/{action}/",
            views.CampaignActionView.as_view(action=action),
            name=f"campaign_{action}",
        )
        for action in ACTIONS
    ],
]
