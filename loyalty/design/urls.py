from django.urls import path

from loyalty.design import views

urlpatterns = [
    path("dashboard/design/", views.DesignView.as_view(), name="design"),
    path("dashboard/design/progress/", views.DesignProgressView.as_view(), name="design_progress"),
    path("dashboard/design/stamp-strip.png", views.DesignStampStripView.as_view(), name="design_stamp_strip"),
    path("dashboard/design/logo.png", views.DesignImageView.as_view(kind="logo"), name="design_logo"),
    path("dashboard/design/icon.png", views.DesignImageView.as_view(kind="icon"), name="design_icon"),
    path("dashboard/design/strip.png", views.DesignImageView.as_view(kind="strip"), name="design_strip"),
]
