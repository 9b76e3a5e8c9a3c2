from django.urls import path

from . import views
from .webhooks import webhook_view

app_name = "providers"

urlpatterns = [
    path("", views.AccountListView.as_view(), name="accounts"),
    path("add/", views.account_add, name="account_add"),
    path("<int:pk>/", views.account_detail, name="account"),
    path("<int:pk>/edit/", views.account_edit, name="account_edit"),
    path("<int:pk>/check/", views.account_check, name="account_check"),
    path("<int:pk>/webhook-token/", views.account_rotate_token, name="account_rotate_token"),
    path("<int:pk>/sync/", views.sync_start, name="sync_start"),
    path("<int:pk>/sync/status/", views.sync_status, name="sync_status"),
    path("<int:pk>/log/", views.RequestLogView.as_view(), name="request_log"),
    path("<int:pk>/log/<int:log_id>/", views.request_log_detail, name="request_log_detail"),
    # Provider callbacks: unauthenticated by session, authenticated per account (token in the path + the
    # provider's own signature where it has one). See providers/webhooks.py.
    path("<slug:code>/<uuid:account_uuid>/<slug:kind>/<str:token>/", webhook_view, name="webhook"),
]
