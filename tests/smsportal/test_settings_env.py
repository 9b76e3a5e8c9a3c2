"""Misconfiguration stops start-up with one line naming the variable, never a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_check(env_overrides: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    drop = {"DATABASE_URL", "SECRET_KEY", "CREDENTIALS_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "smsportal.settings.base",
            "SMSPORTAL_NO_BOOTSTRAP": "1",
            "SMSPORTAL_ENV_FILE": "none",
        }
    )
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DJANGO_DEBUG": "false"}, "SECRET_KEY"),
        ({"DJANGO_DEBUG": "false", "SECRET_KEY": "x" * 50}, "CREDENTIALS_KEY"),
        ({"DJANGO_DEBUG": "true", "DATABASE_URL": "nonsense://what"}, "DATABASE_URL"),
        ({"DJANGO_DEBUG": "true", "DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL"),
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG"),
        ({"DJANGO_DEBUG": "true", "CELERY_BROKER_URL": "kafka://x"}, "CELERY_BROKER_URL"),
        ({"DJANGO_DEBUG": "true", "CREDENTIALS_KEY": "not-a-fernet-key"}, "CREDENTIALS_KEY"),
    ],
)
def test_bad_configuration_gives_one_line(env, variable):
    proc = run_check(env)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert variable in lines[0]
    assert "Traceback" not in proc.stderr


def test_deploy_check_is_clean_with_production_settings():
    proc = run_check(
        {
            "DJANGO_DEBUG": "false",
            "SECRET_KEY": "k8#Vq2!wZ7mR4xT9pL1nB6cF3hJ0sD5gY8eU2iO7aQ4zX1vN9bM3kW6tE0rP5yH",
            "CREDENTIALS_KEY": "0Ejm0xJd8y1b2Jmd9yUuZP4vY8mG4Ykq0p9m8q7y6vI=",
            "ALLOWED_HOSTS": "sms.example.com",
        },
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "System check identified no issues" in proc.stdout
