"""One error tree for every provider. ``retryable`` tells the task layer whether to retry with backoff."""

from __future__ import annotations


class ProviderError(Exception):
    """Base of every provider error. ``code``/``provider_message`` keep what the provider said."""

    retryable = False
    default_message = "Provider error"

    def __init__(
        self,
        message: str = "",
        *,
        code: str | int = "",
        provider_message: str = "",
        status_code: int | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ):
        self.code = str(code) if code not in (None, "") else ""
        self.provider_message = provider_message or ""
        self.status_code = status_code
        self.retry_after = retry_after
        if retryable is not None:
            self.retryable = retryable
        self.message = message or self.provider_message or self.default_message
        super().__init__(self.message)

    def __str__(self) -> str:
        parts = [self.message]
        if self.code and self.code not in self.message:
            parts.append(f"(code {self.code})")
        return " ".join(parts)


class ProviderConnectionError(ProviderError):
    """Network failure or a 5xx: nothing reached the provider, or it failed before acting. Retry."""

    retryable = True
    default_message = "Could not reach the provider"


class ProviderTimeout(ProviderConnectionError):
    """The provider did not answer in time.

    ``ambiguous`` is true when the request may have been acted upon (a read timeout after a send POST): the
    caller must not resend blindly but mark the messages unknown and reconcile by status lookup.
    """

    default_message = "The provider did not answer in time"

    def __init__(self, message: str = "", *, ambiguous: bool = False, **kwargs):
        self.ambiguous = ambiguous
        super().__init__(message, **kwargs)
        if ambiguous:
            self.retryable = False


class ProviderThrottled(ProviderError):
    """HTTP 429 or a documented rate-limit code. Retry after ``retry_after`` seconds when given."""

    retryable = True
    default_message = "The provider asked us to slow down"


class ProviderAuthError(ProviderError):
    """Credentials missing, wrong or revoked (401/403 or a documented auth code). Never retried."""

    default_message = "The provider refused our credentials"


class ProviderResponseError(ProviderError):
    """The provider answered with an error (4xx or an error body). Retryable only when the code says so."""

    default_message = "The provider rejected the request"


class ProviderUnparseableResponse(ProviderError):
    """The answer could not be parsed (HTML error page, truncated JSON/XML...)."""

    default_message = "The provider's answer could not be read"


class ProviderValidationError(ProviderError):
    """Our own check of a documented limit failed before any call (sender length, batch size, window...)."""

    default_message = "The message breaks a limit of this provider"

    def __init__(self, message: str = "", *, field: str = "", **kwargs):
        self.field = field
        super().__init__(message, **kwargs)


class ProviderNotSupported(ProviderError):
    """The provider's API has no such operation."""

    default_message = "This provider does not offer that operation"


class WebhookError(ProviderError):
    """A callback that is malformed (→ HTTP 400)."""

    default_message = "Malformed callback"


class WebhookAuthError(WebhookError):
    """A callback that fails authentication (→ HTTP 403)."""

    default_message = "Callback authentication failed"
