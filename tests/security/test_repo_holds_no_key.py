"""No Ploomes key and no real password lives in the repository: the Airflow connection holds them.

Every file git tracks, or would track (untracked but not ignored), is scanned for two things:

- a key-shaped token: 24 or more letters and digits, mixed and random-looking (Ploomes User-Keys,
  Supabase passwords and service keys all are), unless it sits after a test key's prefix
  (``sim-key-``, ``e2e-key-``...) that marks a key only the simulator accepts;
- a literal value given to a key, password, secret or token in an ``.env``-like file, or (12
  characters or more, no spaces) to a ``User-Key`` header or a connection's ``"password"``
  anywhere, unless it is empty, a ``${VAR}`` reference, a ``<placeholder>`` or one of the
  documented demo values (the simulator's demo key, the local stack's demo passwords).

The scanner is shown to find a key planted in a scratch repository, in each of those forms.
"""

from __future__ import annotations

import math
import re
import secrets
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

TEST_KEY_PREFIXES = ("sim-key-", "e2e-key-", "test-key-", "fake-key-", "revoked-key-")
DEMO_VALUES = frozenset({"ploomes-simulator-demo-key", "ploomes-webhook-local-demo-key", "sales-local-demo",
                         "airflow", "sales", "postgres"})
TOKEN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9+/_-]*?([A-Za-z0-9]{24,})")
ENV_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z0-9_]*(?:KEY|PASSWORD|PASSWD|SECRET|TOKEN)[A-Za-z0-9_]*)"
                            r"\s*=\s*(.*?)\s*$", re.I)
LITERAL_FIELD = re.compile(r"""["'](?:User-Key|password)["']\s*:\s*["']([^"']*)["']""", re.I)
ALLOWED_VALUE = re.compile(r"^(|\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|<[^>]*>|\*+)$")


@dataclass(frozen=True)
class Hit:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def key_shaped(token: str) -> bool:
    """Random-looking: letters and digits mixed, few repeats (not an identifier, not a version)."""
    digits = sum(c.isdigit() for c in token)
    letters = sum(c.isalpha() for c in token)
    return digits >= 4 and letters >= 4 and entropy(token) >= 3.5


def is_env_file(path: str) -> bool:
    name = Path(path).name
    return name.startswith(".env") or name.endswith(".env")


def _unquote(value: str) -> str:
    value = re.sub(r"\s+#.*$", "", value).strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return value


def _allowed(value: str) -> bool:
    return bool(ALLOWED_VALUE.match(value)) or value in DEMO_VALUES or value.startswith(TEST_KEY_PREFIXES)


def scan_text(path: str, text: str) -> list[Hit]:
    hits = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in TOKEN.finditer(line):
            if key_shaped(match.group(1)) and not match.group(0).startswith(TEST_KEY_PREFIXES):
                hits.append(Hit(path, number, f"key-shaped token {match.group(1)[:6]}…"))
        assignment = ENV_ASSIGNMENT.match(line) if is_env_file(path) and not line.lstrip().startswith("#") else None
        if assignment and not _allowed(_unquote(assignment.group(2))):
            hits.append(Hit(path, number, f"{assignment.group(1)} holds a literal value"))
        for field in LITERAL_FIELD.finditer(line):
            value = field.group(1)
            if len(value) >= 12 and not re.search(r"\s", value) and not _allowed(value):  # labels, "x": no
                hits.append(Hit(path, number, "a User-Key or password given literally"))
    return hits


def repository_files(root: Path) -> list[str]:
    """What git tracks, and what it would track (untracked, not ignored)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                            check=True, capture_output=True).stdout
    return sorted({name for name in listed.decode().split("\0") if name})


def scan_repository(root: Path) -> tuple[list[Hit], int]:
    hits, scanned = [], 0
    for name in repository_files(root):
        path = root / name
        if not path.is_file():
            continue  # deleted in the work tree
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        scanned += 1
        hits += scan_text(name, data.decode("utf-8", "replace"))
    return hits, scanned


class TestTheRepositoryHoldsNoSecret:
    def test_no_key_or_password_is_committed(self):
        hits, scanned = scan_repository(ROOT)
        assert scanned > 50, "the scan should see the whole repository"
        assert not hits, "\n".join(map(str, hits))

    def test_the_readme_says_the_key_lives_in_the_connection(self):
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        assert "ploomes_default" in readme and "User-Key" in readme
        assert re.search(r"password\W+(=|is)\W+the User-Key", readme, flags=re.I) or "password = the User-Key" in \
            readme.replace("*", "")
        assert ".env" in readme and re.search(r"never commit", readme, flags=re.I)


def _real_looking_key() -> str:
    """Made up when the test runs, so that no key-shaped text is ever written in this file."""
    return secrets.token_hex(32).upper()


class TestTheScanFindsAPlantedKey:
    @pytest.mark.parametrize(("name", "template"), [
        (".env", "PLOOMES_API_KEY={key}\n"),
        (".env.production", "SALES_DB_PASSWORD='{key}'  # supabase\n"),
        ("config/airflow.env", "export AIRFLOW_CONN_TOKEN=\"{key}\"\n"),
        ("deploy/connections.json", '{{"ploomes_default": {{"conn_type": "ploomes", "password": "{key}"}}}}\n'),
        ("dags/helpers.py", 'HEADERS = {{"User-Key": "{key}"}}\n'),
        ("docs/notes.md", "curl -H 'User-Key: {key}' https://public-api2.ploomes.com/Deals\n"),
        ("tests/test_x.py", 'API_KEY = "{key}"\n'),
    ])
    def test_a_key_planted_in_a_scratch_repository_is_found(self, tmp_path, name, template):
        subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
        (tmp_path / "README.md").write_text("nothing to see\n")
        planted = tmp_path / name
        planted.parent.mkdir(parents=True, exist_ok=True)
        planted.write_text(template.format(key=_real_looking_key()))
        subprocess.run(["git", "add", "README.md"], cwd=tmp_path, check=True)  # the plant stays untracked

        hits, scanned = scan_repository(tmp_path)

        assert scanned == 2
        assert hits and {hit.path for hit in hits} == {name}, hits

    def test_a_plain_password_in_an_env_file_is_found(self):
        assert scan_text(".env", "WAREHOUSE_PASSWORD=correct horse battery staple\n")

    @pytest.mark.parametrize("line", [
        "PLOOMES_API_KEY=ploomes-simulator-demo-key",
        "PLOOMES_API_KEY=<the integration user's User-Key>",
        "AIRFLOW_ADMIN_PASSWORD=",
        "SALES_DB_PASSWORD=${SALES_DB_PASSWORD}",
        "TEST_API_KEY = 'sim-key-" + "0a1b2c3d4e5f" * 3 + "'",
        "# SALES_DB_PASSWORD=<database password>",
    ])
    def test_placeholders_demo_values_and_test_keys_pass(self, line):
        assert scan_text(".env.example", line + "\n") == []
