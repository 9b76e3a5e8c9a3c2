from django.urls import path

from . import views

app_name = "contacts"

urlpatterns = [
    # contacts
    path("", views.ContactListView.as_view(), name="list"),
    path("new/", views.contact_create, name="create"),
    path("bulk/", views.contact_bulk, name="bulk"),
    path("<int:pk>/", views.contact_detail, name="detail"),
    path("<int:pk>/edit/", views.contact_edit, name="edit"),
    path("<int:pk>/delete/", views.contact_delete, name="delete"),
    path("<int:pk>/status/", views.contact_status, name="status"),
    path("<int:pk>/memberships/", views.contact_memberships, name="memberships"),
    # custom fields
    path("fields/", views.FieldListView.as_view(), name="fields"),
    path("fields/<int:pk>/edit/", views.field_edit, name="field_edit"),
    path("fields/<int:pk>/delete/", views.field_delete, name="field_delete"),
    # groups, lists, saved segments (all under groups/ so the "Groups & lists" navigation item is active)
    path("groups/", views.GroupListView.as_view(), name="groups"),
    path("groups/<int:pk>/", views.MembersView.as_view(), name="group"),
    path("groups/<int:pk>/edit/", views.group_edit, name="group_edit"),
    path("groups/<int:pk>/delete/", views.group_delete, name="group_delete"),
    path("groups/lists/", views.ContactListListView.as_view(), name="lists"),
    path("groups/lists/<int:pk>/", views.ListMembersView.as_view(), name="contactlist"),
    path("groups/lists/<int:pk>/edit/", views.list_edit, name="list_edit"),
    path("groups/lists/<int:pk>/delete/", views.list_delete, name="list_delete"),
    path("groups/segments/", views.SegmentListView.as_view(), name="segments"),
    path("groups/segments/new/", views.segment_create, name="segment_create"),
    path("groups/segments/<int:pk>/delete/", views.segment_delete, name="segment_delete"),
    # blocklist
    path("blocklist/", views.BlocklistView.as_view(), name="blocklist"),
    path("blocklist/remove/", views.blocklist_remove, name="blocklist_remove"),
    # imports
    path("imports/", views.ImportListView.as_view(), name="imports"),
    path("imports/upload/", views.import_upload, name="import_upload"),
    path("imports/<int:pk>/", views.import_detail, name="import"),
    path("imports/<int:pk>/preview/", views.import_preview, name="import_preview"),
    path("imports/<int:pk>/start/", views.import_start, name="import_start"),
    path("imports/<int:pk>/progress/", views.import_progress, name="import_progress"),
    path("imports/<int:pk>/cancel/", views.import_cancel, name="import_cancel"),
    path("imports/<int:pk>/retry/", views.import_retry, name="import_retry"),
    path("imports/<int:pk>/rows-not-imported.csv", views.import_errors_csv, name="import_errors"),
]
