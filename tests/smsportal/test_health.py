import pytest


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json()["database"] == "ok" and resp.json()["broker"] == "ok"


@pytest.mark.django_db
def test_healthz_503_when_broker_is_down(client, settings, monkeypatch):
    from smsportal import health

    monkeypatch.setattr(health, "check_broker", lambda: "error: OperationalError")
    resp = client.get("/healthz")
    assert resp.status_code == 503 and resp.json()["status"] == "error"
