"""The shared HTTP layer: error mapping, timeouts, redaction, one log row per call."""

import json

import pytest
import requests
import responses

from providers.adapters.exceptions import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderResponseError,
    ProviderThrottled,
    ProviderTimeout,
    ProviderUnparseableResponse,
)
from providers.adapters.http import (
    REDACTED,
    HttpResponse,
    ProviderHTTP,
    db_logger,
    parse_retry_after,
    redact_body,
    redact_url,
)
from providers.models import ProviderRequestLog
from tests.factories import ProviderAccountFactory

URL = "https://api.example.invalid/send"


@pytest.fixture
def log_rows():
    rows = []
    return rows


@pytest.fixture
def http(log_rows):
    return ProviderHTTP(log=log_rows.append, secrets=["s3cr3t-key-value"])


@pytest.mark.parametrize(
    ("status", "headers", "exc_type", "retryable"),
    [
        (429, {"Retry-After": "7"}, ProviderThrottled, True),
        (500, {}, ProviderConnectionError, True),
        (502, {}, ProviderConnectionError, True),
        (503, {}, ProviderConnectionError, True),
        (401, {}, ProviderAuthError, False),
        (403, {}, ProviderAuthError, False),
        (400, {}, ProviderResponseError, False),
        (404, {}, ProviderResponseError, False),
        (422, {}, ProviderResponseError, False),
    ],
)
def test_status_codes_map_to_the_error_tree(mocked_responses, http, status, headers, exc_type, retryable):
    mocked_responses.add(responses.POST, URL, status=status, headers=headers, body="nope")
    with pytest.raises(exc_type) as info:
        http.request("POST", URL, data={"a": "1"})
    assert info.value.retryable is retryable
    assert info.value.status_code == status
    if status == 429:
        assert info.value.retry_after == 7.0


def test_connection_error_is_retryable(mocked_responses, http):
    mocked_responses.add(responses.POST, URL, body=requests.exceptions.ConnectionError("refused"))
    with pytest.raises(ProviderConnectionError) as info:
        http.request("POST", URL)
    assert info.value.retryable


def test_read_timeout_after_a_send_is_ambiguous_and_not_retryable(mocked_responses, http):
    mocked_responses.add(responses.POST, URL, body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(ProviderTimeout) as info:
        http.request("POST", URL, ambiguous_on_timeout=True)
    assert info.value.ambiguous and not info.value.retryable


def test_read_timeout_on_a_read_is_retryable(mocked_responses, http):
    mocked_responses.add(responses.GET, URL, body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(ProviderTimeout) as info:
        http.request("GET", URL)
    assert not info.value.ambiguous and info.value.retryable


def test_connect_timeout_is_never_ambiguous(mocked_responses, http):
    mocked_responses.add(responses.POST, URL, body=requests.exceptions.ConnectTimeout("no route"))
    with pytest.raises(ProviderTimeout) as info:
        http.request("POST", URL, ambiguous_on_timeout=True)
    assert not info.value.ambiguous and info.value.retryable


def test_error_hook_turns_a_200_error_body_into_an_exception(mocked_responses, http):
    mocked_responses.add(responses.POST, URL, json={"error": {"code": 12, "message": "bad sender"}})

    def hook(resp: HttpResponse):
        body = resp.json()
        if "error" in body:
            return ProviderResponseError(code=body["error"]["code"], provider_message=body["error"]["message"])
        return None

    with pytest.raises(ProviderResponseError) as info:
        http.request("POST", URL, error_hook=hook)
    assert info.value.code == "12" and "bad sender" in str(info.value)


def test_unparseable_json(mocked_responses, http):
    mocked_responses.add(responses.GET, URL, body="<html>gateway</html>")
    resp = http.request("GET", URL)
    with pytest.raises(ProviderUnparseableResponse):
        resp.json()


def test_redirects_are_not_followed(mocked_responses, http):
    mocked_responses.add(responses.GET, URL, status=302, headers={"Location": "https://elsewhere.invalid/"})
    with pytest.raises(ProviderResponseError):
        http.request("GET", URL)


def test_every_call_is_logged_with_secrets_redacted(mocked_responses, http, log_rows):
    http.add_secret("runtime-token-123456")
    mocked_responses.add(
        responses.POST,
        URL,
        json={"token": "runtime-token-123456", "ok": True},
        match=[],
    )
    http.request(
        "POST",
        URL,
        params={"apiKey": "s3cr3t-key-value", "page": "1"},
        data={"API_key": "s3cr3t-key-value", "to": "46700000000"},
        headers={"Authorization": "Bearer runtime-token-123456"},
        operation="send",
    )
    assert len(log_rows) == 1
    entry = log_rows[0]
    dumped = json.dumps(entry.__dict__)
    assert "s3cr3t-key-value" not in dumped
    assert "runtime-token-123456" not in dumped
    assert entry.request_headers["Authorization"] == REDACTED
    assert "page=1" in entry.url and "to=46700000000" in entry.request_body
    assert entry.status_code == 200 and entry.operation == "send"


def test_failed_calls_are_logged_too(mocked_responses, http, log_rows):
    mocked_responses.add(responses.POST, URL, status=503, body="down for s3cr3t-key-value")
    with pytest.raises(ProviderConnectionError) as info:
        http.request("POST", URL)
    assert log_rows[0].status_code == 503 and log_rows[0].error
    assert "s3cr3t-key-value" not in str(info.value) and "s3cr3t-key-value" not in info.value.message
    assert "s3cr3t-key-value" not in log_rows[0].response_body
    assert "s3cr3t-key-value" not in log_rows[0].error


@pytest.mark.django_db
def test_db_logger_writes_a_redacted_row(mocked_responses):
    account = ProviderAccountFactory()
    http = ProviderHTTP(log=db_logger(account.pk), secrets=["another-secret-999"])
    mocked_responses.add(responses.GET, URL, json={"echo": "another-secret-999"})
    http.request("GET", URL, params={"key": "another-secret-999"}, operation="check")
    row = ProviderRequestLog.objects.get(account=account)
    assert row.operation == "check" and row.status_code == 200
    for value in (row.url, json.dumps(row.request_headers), row.request_body, row.response_body):
        assert "another-secret-999" not in value


def test_redaction_helpers():
    assert "abc" not in redact_url("https://x.invalid/p?apiKey=abc&x=1")
    assert "x=1" in redact_url("https://x.invalid/p?apiKey=abc&x=1")
    assert "zzz" not in redact_url("https://x.invalid/zzz-secret/p", ["zzz-secret"])
    assert json.loads(redact_body('{"client_secret": "v", "n": 1}'))["client_secret"] == REDACTED
    assert "v" not in redact_body("client_id=a&client_secret=v").split("client_secret=")[1]
    # PHP-style array keys keep their name but hide a sensitive base
    assert "hide" not in redact_body("params[x]=1&apiKey=hide")


@pytest.mark.parametrize(("value", "expected"), [("5", 5.0), ("0", 0.0), (None, None), ("junk", None)])
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: retry now


def test_logged_tracebacks_are_scrubbed(mocked_responses, http, caplog):
    import logging

    from providers.adapters.http import RedactingLogFilter

    mocked_responses.add(responses.GET, URL, body=requests.exceptions.ConnectionError("boom"))
    logger = logging.getLogger("test.redaction")
    handler_filter = RedactingLogFilter()
    try:
        http.request("GET", URL, params={"apiKey": "s3cr3t-key-value"})
    except ProviderConnectionError:
        logger.exception("send failed for s3cr3t-key-value")
    record = caplog.records[-1]
    handler_filter.filter(record)
    formatted = logging.Formatter().format(record)
    assert "s3cr3t-key-value" not in formatted
