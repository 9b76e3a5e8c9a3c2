from django.urls import path

from . import views

app_name = "campaigns"

urlpatterns = [
    path("", views.CampaignListView.as_view(), name="list"),
    path("new/", views.campaign_create, name="create"),
    path("inbox/", views.RepliesRedirectView.as_view(), name="inbox"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("<int:pk>/live/", views.campaign_live, name="live"),
    path("<int:pk>/preview/", views.campaign_preview, name="preview"),
    path("<int:pk>/test-send/", views.campaign_test_send, name="test_send"),
    path("<int:pk>/test-numbers/", views.testnumber_add, name="testnumber_add"),
    path("<int:pk>/test-numbers/<int:number_pk>/delete/", views.testnumber_delete, name="testnumber_delete"),
    path("<int:pk>/status/", views.campaign_status, name="status"),
    path("<int:pk>/messages/", views.CampaignMessagesView.as_view(), name="messages"),
    path("<int:pk>/export/", views.campaign_export, name="export"),
    path("<int:pk>/failed-group/", views.campaign_failed_group, name="failed_group"),
    path("<int:pk>/audience/<slug:kind>/", views.campaign_audience, name="audience"),
    path("<int:pk>/<slug:action>/", views.campaign_action, name="action"),
]
