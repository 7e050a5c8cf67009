from django.urls import path

from campaigns.segments import views

urlpatterns = [
    path("dashboard/segments/", views.SegmentListView.as_view(), name="segment_list"),
    path("dashboard/segments/new/", views.SegmentCreateView.as_view(), name="segment_create"),
    path("dashboard/segments/count/", views.SegmentCountView.as_view(), name="segment_count"),
    path("dashboard/segments/rfm/", views.RfmView.as_view(), name="rfm_grid"),
    path("dashboard/segments/rfm/recompute/", views.RfmRecomputeView.as_view(), name="rfm_recompute"),
    path("dashboard/segments/<int:pk>/", views.SegmentEditView.as_view(), name="segment_edit"),
    path("dashboard/segments/<int:pk>/export.csv", views.SegmentExportView.as_view(), name="segment_export"),
    path("dashboard/segments/<int:pk>/delete/", views.SegmentDeleteView.as_view(), name="segment_delete"),
]
