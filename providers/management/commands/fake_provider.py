"""``manage.py fake_provider <code> [--port N] [--latency MS] [--host H] [--set name=value ...]``

Serves the local fake of one provider (``providers/fakes/<code>.py``, whose one ``FakeProvider`` subclass is
found automatically) until Ctrl-C, and prints the base URL and the credentials it accepts, to paste into a
provider account: the UI then works end to end with a real HTTP hop and no network.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import signal
import threading

from django.core.management.base import BaseCommand, CommandError

import providers.fakes
from providers.adapters.registry import registry
from providers.fakes.base import FakeProvider


def fake_codes() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.iter_modules(providers.fakes.__path__)
        if not m.name.startswith("_") and m.name != "base"
    )


def fake_class(code: str) -> type[FakeProvider]:
    """The one FakeProvider subclass defined in ``providers.fakes.<code>``."""
    if code not in fake_codes():
        available = ", ".join(fake_codes()) or "none yet"
        hint = " (the sandbox needs no server: it never makes a network call)" if code == "sandbox" else ""
        raise CommandError(f"There is no fake server for {code!r}{hint}. Available: {available}.")
    module = importlib.import_module(f"providers.fakes.{code}")
    classes = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, FakeProvider)
        and obj is not FakeProvider
        and obj.__module__ == module.__name__
    ]
    if len(classes) != 1:
        names = ", ".join(c.__name__ for c in classes) or "none"
        raise CommandError(f"providers/fakes/{code}.py must define exactly one FakeProvider subclass (found: {names}).")
    return classes[0]


def fake_url(fake: FakeProvider) -> str:
    """The URL to paste as the account's base URL (fakes serving under a prefix expose ``api_url``/``api_base``)."""
    for attr in ("api_url", "api_base"):
        value = getattr(fake, attr, None)
        if isinstance(value, str) and value:
            return value
    return fake.base_url


def fake_account_settings(code: str, fake: FakeProvider) -> dict:
    """``base_url``, ``credentials`` and ``options`` of an account that talks to ``fake``.

    A credential/option field takes the fake's attribute of the same name (``JojkaFake.api_key`` → ``api_key``).
    Apifon's fake keeps its HMAC pairs in ``credentials`` (token → secret key): the first pair is used.
    """
    cls = registry().get(code)
    settings = {"base_url": fake_url(fake), "credentials": {}, "options": {}}
    if cls is None:
        return settings
    for target, specs in (("credentials", cls.credential_fields), ("options", cls.option_fields)):
        for spec in specs:
            value = getattr(fake, spec.name, None)
            if isinstance(value, (str, int, float)) and not isinstance(value, bool) and value != "":
                settings[target][spec.name] = str(value)
    pairs = getattr(fake, "credentials", None)
    names = {f.name for f in cls.credential_fields}
    if isinstance(pairs, dict) and pairs and {"api_token", "secret_key"} <= names:
        token, secret = next(iter(pairs.items()))
        settings["credentials"].update(api_token=token, secret_key=secret)
    return settings


def start_fake(code: str, *, values: dict[str, str] | None = None, **kwargs) -> FakeProvider:
    """Start ``code``'s fake on a free port. ``values`` sets credentials it accepts (by credential field name)."""
    cls = fake_class(code)
    values = dict(values or {})
    params = inspect.signature(cls.__init__).parameters
    for name, value in values.items():
        if name in params:
            kwargs[name] = value
    fake = cls(**kwargs)
    pairs = getattr(fake, "credentials", None)
    if isinstance(pairs, dict) and pairs and ("api_token" in values or "secret_key" in values):
        token, secret = next(iter(pairs.items()))  # Apifon's fake: one HMAC pair, token → secret key
        fake.credentials = {values.get("api_token", token): values.get("secret_key", secret)}
    return fake.start()


def _typed(value: str, default):
    """``--set`` values take the type of the argument's default (numbers, booleans); strings otherwise."""
    if isinstance(default, bool):
        return value.lower() in {"1", "true", "yes", "on"}
    if isinstance(default, (int, float)):
        try:
            return type(default)(value)
        except ValueError:
            raise CommandError(f"{value!r} is not a number") from None
    return value


class Command(BaseCommand):
    help = "Serve a provider's local fake API (providers/fakes/<code>.py) for trying the UI without a network."
    requires_system_checks = []  # no database needed: start fast

    def add_arguments(self, parser):
        parser.add_argument("code", help=f"provider code: {', '.join(fake_codes()) or '(none yet)'}")
        parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
        parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
        parser.add_argument("--latency", type=float, default=0.0, help="delay added to every answer, in ms")
        parser.add_argument(
            "--set",
            dest="fake_args",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="constructor argument of the fake, e.g. --set api_key=my-key (repeatable)",
        )

    def handle(self, *args, code: str, port: int, host: str, latency: float, fake_args: list[str], **options):
        cls = fake_class(code)
        kwargs = {}
        params = {
            name: p
            for name, p in inspect.signature(cls.__init__).parameters.items()
            if p.kind == p.KEYWORD_ONLY and name not in {"latency", "host", "port"}
        }
        for item in fake_args:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise CommandError(f"--set expects NAME=VALUE, got {item!r}")
            if name not in params:
                raise CommandError(f"{cls.__name__} has no setting {name!r} (it has: {', '.join(params) or 'none'})")
            kwargs[name] = _typed(value, params[name].default)
        if latency < 0:
            raise CommandError("--latency must be 0 or more")
        try:
            fake = cls(latency=latency / 1000.0, host=host, port=port, **kwargs)
        except OSError as exc:
            raise CommandError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        fake.start()
        account = fake_account_settings(code, fake)
        self.stdout.write(self.style.SUCCESS(f"Fake {code} API listening at {account['base_url']}"))
        self.stdout.write("Paste this as the account's base URL. The fake accepts these account settings:")
        adapter_class = registry().get(code)
        specs = (*adapter_class.credential_fields, *adapter_class.option_fields) if adapter_class else ()
        labels = {f.name: f.label for f in specs}
        for group in ("credentials", "options"):
            for name, value in account[group].items():
                self.stdout.write(f"  {labels.get(name, name)}: {value}")
        self.stdout.write("Press Ctrl-C to stop.")
        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            fake.stop()
            self.stdout.write("Stopped.")
