"""URLs of the inbox (``/inbox/``). A conversation is addressed by the sender's number (E.164, or the sender
name an operator network passed on)."""

from django.urls import path

from . import inbox_views as views

app_name = "inbox"

urlpatterns = [
    path("", views.inbox_index, name="index"),
    path("export.csv", views.export_csv, name="export"),
    path("keywords/", views.keyword_lists, name="keywords"),
    path("keywords/new/", views.keyword_list_edit, name="keyword_new"),
    path("keywords/<slug:kind>/<slug:language>/", views.keyword_list_edit, name="keyword_edit"),
    path("keywords/<slug:kind>/<slug:language>/reset/", views.keyword_list_reset, name="keyword_reset"),
    path("c/<str:phone>/", views.conversation, name="conversation"),
    path("c/<str:phone>/reply/", views.conversation_reply, name="reply"),
    path("c/<str:phone>/assign/", views.conversation_assign, name="assign"),
    path("c/<str:phone>/close/", views.conversation_close, name="close"),
    path("c/<str:phone>/reopen/", views.conversation_reopen, name="reopen"),
    path("c/<str:phone>/block/", views.conversation_block, name="block"),
    path("c/<str:phone>/unblock/", views.conversation_unblock, name="unblock"),
    path("c/<str:phone>/opt-out/", views.conversation_opt_out, name="opt_out"),
    path("c/<str:phone>/opt-in/", views.conversation_opt_in, name="opt_in"),
]
