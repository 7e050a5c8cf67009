from django.urls import path

from . import views

urlpatterns = [
    path("u/<str:token>/", views.unsubscribe, name="campaigns_unsubscribe"),
    path("f/<str:token>/", views.feedback_page, name="campaigns_feedback"),
    path("o/<str:token>/", views.open_pixel, name="campaigns_open"),
    path("campaigns/telegram/webhook/", views.telegram_webhook, name="campaigns_telegram_webhook"),
    path("campaigns/sms/status/", views.sms_status, name="campaigns_sms_status"),
]
