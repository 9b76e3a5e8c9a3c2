"""The htmx table base, exercised through the audit log page (a real HtmxTableView)."""

import csv
import datetime as dt
import io
import zoneinfo

import pytest
from django.db import connection
from django.http import QueryDict
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from smsportal.models import AuditLog
from smsportal.tables import bulk_selection, csv_response, neutralize_formula
from smsportal.views import AuditLogFilter
from tests.factories import AuditLogFactory

pytestmark = pytest.mark.django_db

URL = "/workspace/audit/"
HTMX = {"HX-Request": "true", "HX-Target": "table-auditlog", "HX-Current-URL": "http://testserver" + URL}


@pytest.fixture
def entries(approver):
    AuditLog.objects.all().delete()  # the login of the client fixture
    rows = [AuditLogFactory(action="create", object_repr=f"Contact {i}", object_id=str(i)) for i in range(7)]
    rows.append(
        AuditLogFactory(
            actor=approver,
            actor_label="approver",
            action="approve",
            object_repr="Spring sale",
            object_type="campaigns.campaign",
            object_id="42",
        )
    )
    return rows


def test_full_page_then_partial_for_htmx(approver_client, workspace, entries):
    page = approver_client.get(URL)
    html = page.content.decode()
    assert "<html" in html and 'class="filter-bar"' in html and 'id="table-auditlog"' in html
    assert "Spring sale" in html
    assert "HX-Request" in page["Vary"]

    partial = approver_client.get(URL, headers=HTMX)
    body = partial.content.decode()
    assert partial.status_code == 200
    assert body.lstrip().startswith('<div id="table-auditlog"')
    assert "<html" not in body and "filter-bar" not in body and "app-sidebar" not in body
    assert "Spring sale" in body
    assert "HX-Request" in partial["Vary"]


def test_boosted_and_history_restore_requests_get_the_full_page(approver_client, workspace, entries):
    for extra in ({"HX-Boosted": "true"}, {"HX-History-Restore-Request": "true"}):
        html = approver_client.get(URL, headers={"HX-Request": "true", **extra}).content.decode()
        assert "<html" in html, extra


def test_table_container_refreshes_itself_on_the_client_event(approver_client, workspace, entries):
    body = approver_client.get(URL + "?action=create", headers=HTMX).content.decode()
    assert 'hx-trigger="tableRefresh from:body"' in body
    assert f'hx-get="{URL}?action=create"' in body


def test_sort_links_keep_real_href_and_push_url(approver_client, workspace, entries):
    body = approver_client.get(URL + "?action=create&page=2", headers=HTMX).content.decode()
    # "When" is the one sortable column; sorting drops the page number
    assert (
        f'<a href="{URL}?action=create&amp;sort=created_at" hx-get="{URL}?action=create&amp;sort=created_at" '
        'hx-push-url="true">When</a>' in body
    )


def test_filters(approver_client, workspace, entries, approver):
    def rows(query):
        body = approver_client.get(URL + query, headers=HTMX).content.decode()
        return body.count("<tr ")  # body rows (the header row is a bare <tr>)

    assert rows("") == 8
    assert rows("?action=approve") == 1
    assert rows(f"?actor={approver.pk}") == 1
    assert rows("?object_type=campaigns.campaign") == 1
    assert rows("?q=contact 3") == 1
    assert rows("?q=42") == 1


def test_date_filters_use_the_workspace_day(approver_client, workspace, entries):
    stockholm = zoneinfo.ZoneInfo("Europe/Stockholm")
    AuditLog.objects.filter(object_id="42").update(created_at=dt.datetime(2026, 1, 10, 0, 15, tzinfo=stockholm))
    AuditLog.objects.exclude(object_id="42").update(created_at=dt.datetime(2026, 1, 9, 23, 45, tzinfo=stockholm))
    body = approver_client.get(URL + "?date_from=2026-01-10&date_to=2026-01-10", headers=HTMX).content.decode()
    assert "Spring sale" in body and "Contact 1" not in body
    body = approver_client.get(URL + "?date_to=2026-01-09", headers=HTMX).content.decode()
    assert "Spring sale" not in body and "Contact 1" in body


def test_invalid_filter_shows_a_message_not_a_500(approver_client, workspace, entries):
    resp = approver_client.get(URL + "?date_from=yesterday&action=explode", headers=HTMX)
    body = resp.content.decode()
    assert resp.status_code == 200
    assert "Some filters are not valid" in body and "Enter a valid date" in body
    assert "No rows match these filters" in body


def test_empty_table_shows_the_empty_state(approver_client, workspace):
    AuditLog.objects.all().delete()
    body = approver_client.get(URL, headers=HTMX).content.decode()
    assert "No activity recorded yet" in body


def test_lazy_pagination_without_count(approver_client, workspace, entries):
    AuditLog.objects.bulk_create([AuditLog(action="update", actor_label="bulk") for _ in range(120)])
    with CaptureQueriesContext(connection) as ctx:
        body = approver_client.get(URL + "?per_page=50&page=2", headers=HTMX).content.decode()
    audit_queries = [q["sql"] for q in ctx.captured_queries if "smsportal_auditlog" in q["sql"]]
    assert not any("COUNT(" in sql.upper() for sql in audit_queries), audit_queries
    assert "Rows 51–100" in body and "Page 2" in body
    assert 'rel="prev"' in body and 'rel="next"' in body
    last = approver_client.get(URL + "?per_page=50&page=3", headers=HTMX).content.decode()
    assert "Rows 101–128" in last and 'rel="next"' not in last


def test_per_page_is_clamped(approver_client, workspace, entries):
    AuditLog.objects.bulk_create([AuditLog(action="update", actor_label="bulk") for _ in range(250)])
    body = approver_client.get(URL + "?per_page=100000", headers=HTMX).content.decode()
    assert "Rows 1–200" in body
    body = approver_client.get(URL + "?per_page=abc&page=-4", headers=HTMX).content.decode()
    assert "Rows 1–50" in body


def test_csv_export_of_the_filtered_rows(approver_client, approver, workspace, entries):
    AuditLogFactory(action="create", object_repr='=HYPERLINK("http://evil")', object_id="99")
    resp = approver_client.get(URL + "?action=create&export=csv")
    assert resp["Content-Type"].startswith("text/csv") and "attachment" in resp["Content-Disposition"]
    content = b"".join(resp.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(content)))
    assert rows[0] == ["time", "actor", "action", "object_type", "object_id", "object", "changes"]
    assert len(rows) == 1 + 8 and all(r[2] == "create" for r in rows[1:])
    assert [r[5] for r in rows if r[4] == "99"] == ['\'=HYPERLINK("http://evil")']
    export = AuditLog.objects.get(action=AuditLog.Action.EXPORT)
    assert export.actor == approver and export.changes == {"filter": {"action": "create"}}


def test_csv_export_with_invalid_filter_redirects_with_message(approver_client, workspace, entries):
    resp = approver_client.get(URL + "?date_from=nope&export=csv", follow=True)
    assert "Fix the filters before exporting." in resp.content.decode()
    assert not AuditLog.objects.filter(action=AuditLog.Action.EXPORT).exists()


def test_marketer_cannot_export(marketer_client, workspace):
    assert marketer_client.get(URL + "?export=csv").status_code == 403


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("+46701234567", "+46701234567"),
        ("-5", "-5"),
        ("Anna", "Anna"),
        (None, ""),
    ],
)
def test_neutralize_formula(value, expected):
    assert neutralize_formula(value) == expected


def test_csv_response_streams_with_bom():
    resp = csv_response(iter([["a", 1], ["=x", None]]), filename="f.csv", header=["h1", "h2"])
    assert b"".join(resp.streaming_content).decode() == "\ufeffh1,h2\r\na,1\r\n'=x,\r\n"


def test_bulk_selection_ids_and_all_matching(entries, approver):
    factory = RequestFactory()
    qs = AuditLog.objects.all()
    ids = [str(e.pk) for e in entries[:2]]
    request = factory.post("/", {"selected": [*ids, "abc", "-1", "1 OR 1=1"]})
    assert sorted(bulk_selection(request, qs).values_list("pk", flat=True)) == sorted(int(i) for i in ids)

    request = factory.post("/", {"select_all_matching": "1", "filter_query": "action=create"})
    request.user = approver
    assert bulk_selection(request, qs, filterset_class=AuditLogFilter).count() == 7

    request = factory.post("/", {"select_all_matching": "1", "filter_query": "date_from=bad"})
    request.user = approver
    assert bulk_selection(request, qs, filterset_class=AuditLogFilter).count() == 0

    # ids outside the given queryset are never selected
    request = factory.post("/", {"selected": ids})
    assert bulk_selection(request, qs.filter(action="approve")).count() == 0


def test_selection_column_renders_checkboxes_for_the_bulk_form(rf, entries):
    import django_tables2 as tables

    from smsportal.tables import HtmxTable, SelectionColumn

    class PickTable(HtmxTable):
        selected = SelectionColumn()
        object_repr = tables.Column()

        class Meta(HtmxTable.Meta):
            model = AuditLog
            fields = ("selected", "object_repr")

    request = rf.get("/")
    table = PickTable(AuditLog.objects.all())
    html = table.as_html(request)
    assert "data-select-all" in html
    assert f'name="selected" value="{entries[0].pk}" form="bulk-form" data-select-row' in html


def test_filter_query_dict_roundtrip():
    """The selection bar posts the table's query string; QueryDict parses it back for the filter."""
    assert QueryDict("action=create&q=a%20b")["q"] == "a b"
