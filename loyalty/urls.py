from django.urls import include, path

urlpatterns = [
    path("api/", include("loyalty.api.urls")),
]
