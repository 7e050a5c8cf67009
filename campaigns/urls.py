from django.urls import include, path

urlpatterns: list = [
    path("", include("campaigns.channels.urls")),
]
