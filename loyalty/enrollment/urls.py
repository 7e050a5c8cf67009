from django.urls import path

from loyalty.enrollment import poster, views

urlpatterns = [
    # Public: what customers open (no login).
    path("join/<slug:slug>/", views.enrol, name="enroll"),
    path("join/<slug:slug>/<int:location_id>/", views.enrol, name="enroll_location"),
    path("join/<slug:slug>/send-card/", views.send_card, name="enroll_send_card"),
    path("join/<slug:slug>/logo.png", views.merchant_logo, name="enroll_logo"),
    path("join/<slug:slug>/strip.png", views.merchant_strip, name="enroll_strip"),
    path("card/<str:web_token>/", views.web_card, name="webcard"),
    path("card/<str:web_token>/welcome/", views.welcome, name="webcard_welcome"),
    path("card/<str:web_token>/stamps.png", views.web_card_stamps, name="webcard_stamps"),
    # Dashboard: QR codes and posters (owner and marketer).
    path("dashboard/qr/", poster.QrPageView.as_view(), name="enroll_qr"),
    path("dashboard/qr/join.svg", poster.QrSvgView.as_view(), name="enroll_qr_svg"),
    path("dashboard/qr/join.png", poster.QrPngView.as_view(), name="enroll_qr_png"),
    path("dashboard/qr/poster/", poster.PosterView.as_view(), name="enroll_poster"),
    path("dashboard/qr/<int:location_id>/join.svg", poster.QrSvgView.as_view(), name="enroll_qr_location_svg"),
    path("dashboard/qr/<int:location_id>/join.png", poster.QrPngView.as_view(), name="enroll_qr_location_png"),
    path("dashboard/qr/<int:location_id>/poster/", poster.PosterView.as_view(), name="enroll_poster_location"),
]
