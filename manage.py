#!/usr/bin/env python3
"""Django's command-line utility, and the project's bootstrap.

Run with any Python 3 and it makes sure the project's environment exists first:
``python3 manage.py up`` on a fresh clone finds a Python >= 3.12 (Django 6 needs it), creates ``.venv``,
installs the locked dependencies (``uv.lock``, exact versions and hashes) and re-runs itself inside it.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PY = VENV / "bin" / "python"
UV_VERSION = "0.13.9"
MIN_PY = (3, 12)


def _in_project_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def _find_python() -> str:
    if sys.version_info >= MIN_PY:
        return sys.executable
    candidates = [os.environ.get("SMSPORTAL_PYTHON", ""), "python3.14", "python3.13", "python3.12"]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv_root.is_dir():

        def version_key(path: Path) -> tuple:
            return tuple(int(part) if part.isdigit() else -1 for part in path.name.split("."))

        candidates += [str(p / "bin" / "python3") for p in sorted(pyenv_root.iterdir(), key=version_key, reverse=True)]
    check = "import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)"
    for cand in candidates:
        path = shutil.which(cand) if cand and os.sep not in cand else cand
        if path and Path(path).exists():
            if subprocess.run([path, "-c", check], capture_output=True).returncode == 0:
                return path
    sys.exit("smsportal needs Python 3.12 or newer (Django 6.1); set SMSPORTAL_PYTHON to its path.")


def _lock_stamp() -> str:
    lock = ROOT / "uv.lock"
    return str(lock.stat().st_mtime_ns) + ":" + str(lock.stat().st_size)


def bootstrap() -> None:
    """Create or refresh .venv from uv.lock, then re-exec this command inside it."""
    stamp_file = VENV / ".smsportal-lock"
    if not VENV_PY.exists():
        python = _find_python()
        print(f"smsportal: creating .venv with {python}", flush=True)
        subprocess.run([python, "-m", "venv", str(VENV)], check=True)
    if not stamp_file.exists() or stamp_file.read_text() != _lock_stamp():
        print("smsportal: installing locked dependencies (uv.lock)", flush=True)
        uv = VENV / "bin" / "uv"
        if not uv.exists():
            subprocess.run([str(VENV_PY), "-m", "pip", "install", "--quiet", f"uv=={UV_VERSION}"], check=True)
        env = dict(os.environ, UV_PROJECT_ENVIRONMENT=str(VENV), UV_PYTHON_DOWNLOADS="never")
        subprocess.run(
            [str(uv), "sync", "--frozen", "--all-groups", "--python", str(VENV_PY)],
            cwd=ROOT,
            env=env,
            check=True,
        )
        stamp_file.write_text(_lock_stamp())
    os.execv(str(VENV_PY), [str(VENV_PY), str(ROOT / "manage.py"), *sys.argv[1:]])


def ensure_local_env() -> None:
    """First ``up`` on a machine: write .env for a local, debug-mode run with stable random keys.

    The keys must not change between runs (the credentials key decrypts stored provider credentials), so they are
    generated once and kept in .env, which git ignores.
    """
    env_file = ROOT / ".env"
    if env_file.exists() or os.environ.get("SECRET_KEY"):
        return
    import base64
    import secrets

    env_file.write_text(
        "# Written by `manage.py up` for a local run; see .env.example for every setting.\n"
        "DJANGO_DEBUG=true\n"
        f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
        f"CREDENTIALS_KEY={base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}\n"
    )
    env_file.chmod(0o600)
    print("smsportal: wrote .env for a local run (debug mode, fresh keys)", flush=True)


def main() -> None:
    if sys.argv[1:2] == ["up"]:
        ensure_local_env()
    if not _in_project_venv() and os.environ.get("SMSPORTAL_NO_BOOTSTRAP") != "1":
        try:
            import django  # noqa: F401
        except ImportError:
            bootstrap()
        else:
            if sys.argv[1:2] in (["up"], ["test"]):
                bootstrap()
    if sys.argv[1:2] == ["test"]:  # the test runner needs no .env: its settings provide safe test values
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsportal.settings.test")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsportal.settings.base")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
