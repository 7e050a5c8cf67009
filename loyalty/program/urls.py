from django.urls import path

from loyalty.program import views

urlpatterns = [
    path("dashboard/program/", views.ProgramEditView.as_view(), name="program"),
]
