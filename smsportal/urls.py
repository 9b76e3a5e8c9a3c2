"""URL map. Every page needs a signed-in user (``LoginRequiredMiddleware``); the exceptions are marked with
``login_not_required``: sign-in, the health check and provider webhooks (which authenticate per account)."""

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from smsportal import views
from smsportal.health import healthz

workspace_patterns = [
    path("settings/", views.workspace_settings, name="settings"),
    path("users/", views.user_list, name="users"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:pk>/role/", views.user_set_role, name="user_role"),
    path("users/<int:pk>/active/", views.user_set_active, name="user_active"),
    path("users/<int:pk>/password/", views.user_set_password, name="user_password"),
    path("audit/", views.AuditLogView.as_view(), name="audit"),
]

auth_patterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("password/done/", views.PasswordChangeDoneView.as_view(), name="password_change_done"),
]

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("accounts/", include(auth_patterns)),
    path("workspace/", include((workspace_patterns, "smsportal"))),
    path("healthz", login_not_required(healthz), name="healthz"),
    path("admin/", admin.site.urls),
    # --- apps: each app adds its own line here -----------------------------------------------------------
    path("providers/", include("providers.urls")),
    path("campaigns/", include("campaigns.urls")),
    path("inbox/", include("campaigns.inbox_urls")),
    path("contacts/", include("contacts.urls")),
]

handler403 = "smsportal.views.permission_denied"
handler404 = "smsportal.views.page_not_found"
handler500 = "smsportal.views.server_error"
