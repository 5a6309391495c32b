"""The stack: docker-compose.yaml, docker/Dockerfile*, docker/init.sh and .env.example.

No Docker engine runs where the tests run, but compose itself does: Debian's ``docker-compose``
(installed by ``devkit/system-packages.sh``) validates the file and renders it (``config``:
anchors merged, variables interpolated from an env file, paths resolved), and every test reads
that rendered result: the services, the connections the DAG uses, the ports, the mounts, where
every secret comes from.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
import yaml

from ploomes_sync.config import ALERT_EMAILS_VARIABLE
from ploomes_sync.settings import (
    API_POOL,
    API_POOL_SLOTS,
    PLOOMES_CONN_ID,
    SALES_DB_CONN_ID,
    SMTP_CONN_ID,
    WEBHOOK_CONN_ID,
)

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
SIMULATOR_DOCKERFILE = ROOT / "docker" / "Dockerfile.simulator"
DOCKERIGNORE = ROOT / "docker" / "Dockerfile.dockerignore"
INIT_SCRIPT = ROOT / "docker" / "init.sh"
ENV_EXAMPLE = ROOT / ".env.example"

AIRFLOW_SERVICES = {
    "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker", "airflow-triggerer",
    "airflow-init",
}
LONG_RUNNING_AIRFLOW = AIRFLOW_SERVICES - {"airflow-init"}
BACKING_SERVICES = {"postgres", "redis", "warehouse", "ploomes-simulator", "mailpit"}
AIRFLOW_HOME = PurePosixPath("/opt/airflow")

# Values that may stand where a secret goes: the simulator's documented demo key and the demo
# passwords of containers only this machine reaches. Anything else comes from the environment.
DEMO_API_KEY = "ploomes-simulator-demo-key"
DEMO_SECRETS = {"", DEMO_API_KEY, "airflow", "sales-local-demo", "ploomes-webhook-local-demo-key"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY($|_)")
PRODUCTION = {
    "PLOOMES_API_URL": "https://public-api2.ploomes.com",
    "PLOOMES_API_KEY": "a-user-key-from-the-secret-store",
    "SALES_DB_HOST": "aws-0-sa-east-1.pooler.supabase.com",
    "SALES_DB_PORT": "6543",
    "SALES_DB_NAME": "postgres",
    "SALES_DB_USER": "ploomes_sync_app.project",
    "SALES_DB_PASSWORD": "a-database-password",
    "SALES_DB_EXTRA": '{"sslmode": "require", "prepare_threshold": null}',
}


# --- compose renders the file ------------------------------------------------------------------------


def env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a dotenv file, quotes removed."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def render(tmp_path: Path, env: dict[str, str] | None) -> dict:
    """``docker-compose config`` of the file with ``env`` as its env file (None: an empty one)."""
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: run devkit/system-packages.sh (make install does)"
    path = tmp_path / f"env-{len(list(tmp_path.iterdir()))}"
    path.write_text("".join(f"{key}='{value}'\n" for key, value in (env or {}).items()))
    result = subprocess.run([binary, "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE),
                             "--env-file", str(path), "config"], cwd=ROOT, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=120, check=False)
    assert result.returncode == 0, f"compose refused the file: {result.stderr}"
    assert "WARNING" not in result.stderr, result.stderr  # e.g. a variable read but never set
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compose")


@pytest.fixture(scope="module")
def compose(workdir: Path) -> dict:
    """The stack as ``cp .env.example .env && docker compose up`` sees it."""
    return render(workdir, env_file(ENV_EXAMPLE))


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def common_env(services: dict) -> dict:
    """The environment every Airflow component shares."""
    return services["airflow-scheduler"]["environment"]


def connection(env: dict, conn_id: str) -> dict:
    return json.loads(env["AIRFLOW_CONN_" + conn_id.upper()])


def command_option(command: list[str], option: str) -> str:
    return command[command.index(option) + 1]


def mounts(service: dict) -> dict[str, tuple[str, list[str]]]:
    """Container path -> (source, options) of a service's volumes as compose renders them."""
    found = {}
    for volume in service.get("volumes", []):
        source, target, *options = volume.split(":")
        found[target] = (source, options)
    return found


def published(port: str) -> tuple[str, int, int]:
    """(host address, host port, container port) of a rendered ``ip:host:container/proto``."""
    host_ip, host, container = port.split("/")[0].split(":")
    return host_ip, int(host), int(container)


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def dockerfile_lines(path: Path = DOCKERFILE) -> list[str]:
    """Dockerfile instructions, one a line (continuations joined, comments dropped)."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def dockerfile_copies(path: Path = DOCKERFILE) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY, flags dropped."""
    copies = []
    for line in dockerfile_lines(path):
        if line.startswith("COPY "):
            *sources, destination = [word for word in line.split()[1:] if not word.startswith("--")]
            copies.append((sources, destination))
    return copies


# --- the services -------------------------------------------------------------------------------------


class TestServices:
    def test_compose_validates_the_file_and_needs_no_env_file(self, workdir, compose):
        assert render(workdir, None) == compose  # .env.example holds the defaults, nothing more

    def test_stack_has_the_official_airflow_services_and_what_the_dag_talks_to(self, services):
        assert AIRFLOW_SERVICES | BACKING_SERVICES <= set(services)

    def test_every_airflow_service_shares_the_image_mounts_and_environment(self, services, common_env):
        reference = services["airflow-scheduler"]
        for name in AIRFLOW_SERVICES:
            service = services[name]
            for key in ("build", "image", "volumes"):
                assert service[key] == reference[key], f"{name}.{key} differs"
            if name != "airflow-init":  # init alone runs as root, to chown the volumes
                assert service["user"] == reference["user"], name
            for key, value in common_env.items():
                assert service["environment"].get(key) == value, f"{name} changes {key}"

    def test_airflow_is_built_from_the_project_dockerfile(self, services):
        build = services["airflow-scheduler"]["build"]
        assert (Path(build["context"]) / build["dockerfile"]).resolve() == DOCKERFILE

    def test_airflow_runs_the_celery_executor_on_redis_and_postgres(self, common_env, services):
        assert common_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert urlsplit(common_env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis"
        assert "redis" in services["redis"]["image"]
        for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"):
            url = urlsplit(common_env[key])
            assert url.hostname == "postgres", key
            assert url.password == services["postgres"]["environment"]["POSTGRES_PASSWORD"], key
        assert services["airflow-worker"]["command"] == "celery worker"

    def test_dag_is_unpaused_at_creation_and_examples_are_off(self, common_env):
        assert common_env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "false"
        assert common_env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"

    def test_workers_reach_the_execution_api_on_the_api_server(self, common_env, services):
        url = urlsplit(common_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert url.hostname == "airflow-apiserver" and url.path == "/execution/"
        assert services["airflow-apiserver"]["command"] == "api-server"
        assert url.port in [published(p)[2] for p in services["airflow-apiserver"]["ports"]]

    def test_ui_login_is_the_simple_auth_manager_user_that_init_sets_up(self, common_env, services):
        assert common_env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("SimpleAuthManager")
        username, role = common_env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(":")
        assert role == "admin"
        assert services["airflow-init"]["environment"]["AIRFLOW_ADMIN_USERNAME"] == username
        passwords_file = PurePosixPath(common_env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
        assert passwords_file.name in INIT_SCRIPT.read_text()

    def test_warehouse_is_postgres_15_with_a_volume_of_its_own(self, compose, services):
        warehouse = services["warehouse"]
        assert warehouse["image"] == "postgres:15"
        (source, _), = [m for t, m in mounts(warehouse).items() if t == "/var/lib/postgresql/data"]
        assert source in compose["volumes"]
        others = {m[0] for name, s in services.items() if name != "warehouse" for m in mounts(s).values()}
        assert source not in others

    def test_mailpit_catches_smtp_on_1025_and_serves_its_ui_on_8025(self, services):
        mailpit = services["mailpit"]
        assert mailpit["image"].startswith("axllent/mailpit")
        assert port_of(mailpit["environment"]["MP_SMTP_BIND_ADDR"]) == 1025
        assert port_of(mailpit["environment"]["MP_UI_BIND_ADDR"]) == 8025
        assert [published(p)[2] for p in mailpit["ports"]] == [8025]


class TestMounts:
    def test_dags_plugins_and_include_are_mounted_read_only_where_airflow_looks(self, services, common_env):
        volumes = mounts(services["airflow-scheduler"])
        for folder, target in (("dags", common_env["AIRFLOW__CORE__DAGS_FOLDER"]),
                               ("plugins", common_env["AIRFLOW__CORE__PLUGINS_FOLDER"]),
                               ("include", str(AIRFLOW_HOME / "include"))):
            source, options = volumes[target]
            assert Path(source) == ROOT / folder and "ro" in options, folder

    def test_the_package_is_installed_in_the_image_not_mounted(self, services):
        sources = {Path(source) for source, _ in mounts(services["airflow-scheduler"]).values()
                   if source.startswith("/")}
        assert ROOT / "src" not in sources and ROOT not in sources

    def test_logs_and_secrets_live_in_named_volumes(self, compose, services):
        volumes = mounts(services["airflow-scheduler"])
        for target in ("/opt/airflow/logs", "/opt/airflow/secrets"):
            assert volumes[target][0] in compose["volumes"], target


class TestConnections:
    def test_env_names_are_exactly_the_connection_and_variable_ids_the_code_uses(self, common_env):
        connections = {key for key in common_env if key.startswith("AIRFLOW_CONN_")}
        variables = {key for key in common_env if key.startswith("AIRFLOW_VAR_")}
        assert connections == {"AIRFLOW_CONN_" + conn_id.upper()
                               for conn_id in (PLOOMES_CONN_ID, SALES_DB_CONN_ID, SMTP_CONN_ID, WEBHOOK_CONN_ID)}
        assert variables == {"AIRFLOW_VAR_" + ALERT_EMAILS_VARIABLE.upper()}

    def test_connection_values_are_json_that_airflow_reads(self, common_env):
        from airflow.sdk import Connection

        for conn_id in (PLOOMES_CONN_ID, SALES_DB_CONN_ID, SMTP_CONN_ID, WEBHOOK_CONN_ID):
            value = common_env["AIRFLOW_CONN_" + conn_id.upper()]
            assert value.startswith("{"), conn_id  # JSON, not a URI
            conn = Connection.from_json(value, conn_id=conn_id)
            assert conn.conn_type and conn.host, conn_id

    def test_ploomes_connection_is_the_registered_type_and_reaches_the_simulator(self, common_env, services):
        from ploomes_sync.provider import get_provider_info

        conn = connection(common_env, PLOOMES_CONN_ID)
        registered = {item["connection-type"] for item in get_provider_info()["connection-types"]}
        assert conn["conn_type"] in registered
        url = urlsplit(conn["host"])
        assert url.scheme == "http" and url.hostname == "ploomes-simulator"
        assert url.port == int(command_option(services["ploomes-simulator"]["command"], "--port"))
        assert isinstance(conn["extra"]["requests_per_minute"], int)

    def test_sales_db_connection_reaches_the_warehouse_with_its_credentials(self, common_env, services):
        conn = connection(common_env, SALES_DB_CONN_ID)
        warehouse = services["warehouse"]["environment"]
        assert (conn["conn_type"], conn["host"], conn["port"]) == ("postgres", "warehouse", 5432)
        assert (conn["schema"], conn["login"], conn["password"]) == (
            warehouse["POSTGRES_DB"], warehouse["POSTGRES_USER"], warehouse["POSTGRES_PASSWORD"])

    def test_smtp_connection_reaches_mailpit_on_its_smtp_port_without_tls(self, common_env, services):
        conn = connection(common_env, SMTP_CONN_ID)
        assert (conn["conn_type"], conn["host"]) == ("smtp", "mailpit")
        assert conn["port"] == port_of(services["mailpit"]["environment"]["MP_SMTP_BIND_ADDR"])
        assert conn["extra"]["disable_tls"] is True and conn["extra"]["disable_ssl"] is True
        assert "@" in conn["extra"]["from_email"]
        assert "login" not in conn and "password" not in conn  # Mailpit takes no login

    def test_webhook_connection_points_ploomes_at_the_api_server_with_a_key(self, common_env, services):
        conn = connection(common_env, WEBHOOK_CONN_ID)
        url = urlsplit(conn["host"])
        assert url.hostname == "airflow-apiserver" and "airflow-apiserver" in services
        assert len(conn["password"]) >= 16  # registration refuses a shorter validation key

    def test_alert_recipients_default_to_an_address(self, common_env):
        assert "@" in common_env["AIRFLOW_VAR_" + ALERT_EMAILS_VARIABLE.upper()]

    def test_real_ploomes_and_supabase_are_reached_by_setting_env_alone(self, workdir):
        common_env = render(workdir, {**env_file(ENV_EXAMPLE), **PRODUCTION})["services"]["airflow-worker"][
            "environment"]
        ploomes = connection(common_env, PLOOMES_CONN_ID)
        assert (ploomes["host"], ploomes["password"]) == (PRODUCTION["PLOOMES_API_URL"], PRODUCTION["PLOOMES_API_KEY"])
        sales_db = connection(common_env, SALES_DB_CONN_ID)
        assert sales_db["host"] == PRODUCTION["SALES_DB_HOST"] and sales_db["port"] == 6543
        assert (sales_db["login"], sales_db["password"]) == ("ploomes_sync_app.project", "a-database-password")
        assert sales_db["extra"] == {"sslmode": "require", "prepare_threshold": None}


class TestInit:
    def test_init_runs_the_script_the_image_ships(self, services):
        init = services["airflow-init"]
        assert init["entrypoint"] == "/bin/bash"
        shipped = {dest for sources, dest in dockerfile_copies() if sources == ["docker/init.sh"]}
        assert init["command"] == [shipped.pop()]
        assert init["user"] == "0:0"

    def test_init_creates_the_api_pool(self):
        pools = re.findall(r"airflow pools set (\S+) (\d+) ", INIT_SCRIPT.read_text())
        assert pools == [(API_POOL, str(API_POOL_SLOTS))]

    def test_init_migrates_the_database_before_creating_the_pool(self):
        script = INIT_SCRIPT.read_text()
        assert 0 <= script.index("airflow db migrate") < script.index("airflow pools set")

    def test_init_stops_at_the_first_failure_and_is_valid_bash(self):
        assert "set -euo pipefail" in INIT_SCRIPT.read_text()
        result = subprocess.run(["bash", "-n", str(INIT_SCRIPT)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr

    def test_init_generates_every_secret_the_components_read(self, common_env, services):
        secrets_dir = PurePosixPath("/opt/airflow/secrets")
        assert str(secrets_dir) in mounts(services["airflow-scheduler"])
        script = INIT_SCRIPT.read_text()
        assert f"SECRETS_DIR={secrets_dir}" in script
        commands = {key: value for key, value in common_env.items() if key.endswith("_CMD")}
        assert set(commands) == {"AIRFLOW__CORE__FERNET_KEY_CMD", "AIRFLOW__API_AUTH__JWT_SECRET_CMD",
                                 "AIRFLOW__API__SECRET_KEY_CMD"}
        for key, value in commands.items():
            program, path = value.split()
            assert program == "cat" and PurePosixPath(path).parent == secrets_dir, key
            assert f'"{PurePosixPath(path).name}"' in script, f"init.sh does not create {path}"


class TestSimulator:
    def test_simulator_serves_on_the_port_the_connection_uses(self, services, common_env):
        command = services["ploomes-simulator"]["command"]
        assert command_option(command, "--host") == "0.0.0.0"
        port = int(command_option(command, "--port"))
        assert urlsplit(connection(common_env, PLOOMES_CONN_ID)["host"]).port == port
        assert int(command_option(command, "--deals")) == 30000
        assert [published(p)[2] for p in services["ploomes-simulator"]["ports"]] == [port]

    def test_simulator_accepts_the_key_the_connection_sends_and_takes_it_from_the_environment(
        self, services, common_env, workdir,
    ):
        from ploomes_simulator.config import DEMO_API_KEY as simulator_demo_key

        key = command_option(services["ploomes-simulator"]["command"], "--api-key")
        assert key == connection(common_env, PLOOMES_CONN_ID)["password"] == simulator_demo_key
        other = render(workdir, {**env_file(ENV_EXAMPLE), "PLOOMES_SIMULATOR_API_KEY": "another-demo-key"})
        assert command_option(other["services"]["ploomes-simulator"]["command"], "--api-key") == "another-demo-key"

    def test_simulator_healthcheck_asks_its_own_port(self, services):
        simulator = services["ploomes-simulator"]
        port = command_option(simulator["command"], "--port")
        assert f", {port}," in " ".join(simulator["healthcheck"]["test"])

    def test_simulator_has_an_image_of_its_own_with_no_airflow_and_no_connection(self, services):
        simulator = services["ploomes-simulator"]
        assert (Path(simulator["build"]["context"]) / simulator["build"]["dockerfile"]).resolve() == \
            SIMULATOR_DOCKERFILE
        assert simulator["image"] != services["airflow-scheduler"]["image"]
        assert not any(key.startswith("AIRFLOW_CONN_") for key in simulator.get("environment", {}))
        lines = dockerfile_lines(SIMULATOR_DOCKERFILE)
        assert any(line.startswith("FROM python:3.11") for line in lines)
        assert 'ENTRYPOINT ["python", "-m", "ploomes_simulator"]' in lines


class TestStartOrder:
    def test_backing_and_long_running_airflow_services_have_healthchecks(self, services):
        for name in BACKING_SERVICES | LONG_RUNNING_AIRFLOW:
            assert services[name]["healthcheck"]["test"], name

    def test_airflow_services_wait_for_healthy_postgres_and_redis(self, services):
        for name in AIRFLOW_SERVICES:
            depends = services[name]["depends_on"]
            for backing in ("postgres", "redis"):
                assert depends[backing] == {"condition": "service_healthy"}, (name, backing)

    def test_airflow_services_wait_for_init_to_succeed(self, services):
        for name in LONG_RUNNING_AIRFLOW:
            assert services[name]["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}

    def test_worker_waits_for_everything_the_tasks_talk_to(self, services):
        depends = services["airflow-worker"]["depends_on"]
        for name in ("warehouse", "ploomes-simulator", "mailpit", "airflow-apiserver"):
            assert depends[name] == {"condition": "service_healthy"}, name

    def test_every_awaited_health_has_a_healthcheck(self, services):
        for name, service in services.items():
            for target, rule in service.get("depends_on", {}).items():
                if rule.get("condition") == "service_healthy":
                    assert "healthcheck" in services[target], f"{name} waits for {target}'s health"


class TestExposure:
    def test_every_published_port_binds_localhost_only(self, services):
        ports = [(name, published(p)) for name, s in services.items() for p in s.get("ports", [])]
        assert len(ports) >= 2 and all(address == "127.0.0.1" for _, (address, *_) in ports), ports
        assert all(service.get("network_mode") != "host" for service in services.values())

    def test_bind_address_is_one_setting(self, workdir):
        opened = render(workdir, {**env_file(ENV_EXAMPLE), "BIND_ADDRESS": "0.0.0.0"})
        addresses = {published(p)[0] for s in opened["services"].values() for p in s.get("ports", [])}
        assert addresses == {"0.0.0.0"}


class TestSecrets:
    def test_every_secret_setting_comes_from_the_environment(self, workdir, services):
        """Render with every secret variable of .env.example changed: every secret setting changes."""
        documented = env_file(ENV_EXAMPLE)
        changed = {key: f"changed-{key.lower()}" for key in documented if SECRET_NAME.search(key)}
        other = render(workdir, {**documented, **changed})["services"]
        for name, service in services.items():
            for key, value in (service.get("environment") or {}).items():
                if key.endswith(("_CMD", "_FILE")) or not SECRET_NAME.search(key):
                    continue  # where a secret is kept, not the secret
                assert other[name]["environment"][key] != value, f"{name}: {key} is written in the file"
        for key in ("AIRFLOW_CONN_" + PLOOMES_CONN_ID.upper(), "AIRFLOW_CONN_" + SALES_DB_CONN_ID.upper()):
            assert json.loads(other["airflow-worker"]["environment"][key])["password"].startswith("changed-")

    def test_demo_key_is_the_simulator_s_own(self):
        from ploomes_simulator.config import DEMO_API_KEY as simulator_demo_key

        assert simulator_demo_key == DEMO_API_KEY

    def test_no_file_holds_a_string_that_looks_like_a_real_key(self):
        looks_like_a_key = re.compile(
            r"(?<![A-Za-z0-9])(?:[0-9A-Fa-f]{24,}|(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{32,})"
            r"(?![A-Za-z0-9])"
        )
        for path in (COMPOSE_FILE, ENV_EXAMPLE, DOCKERFILE, SIMULATOR_DOCKERFILE, INIT_SCRIPT):
            found = looks_like_a_key.findall(path.read_text())
            assert found == [], f"{path.name}: {found}"

    def test_env_example_holds_only_demo_secrets(self):
        for key, value in env_file(ENV_EXAMPLE).items():
            if SECRET_NAME.search(key):
                assert value in DEMO_SECRETS, key


class TestDocumentation:
    def test_every_setting_of_env_example_reaches_the_rendered_stack(self, workdir, compose):
        """Each variable .env.example documents changes what compose renders (none is dead)."""
        documented = env_file(ENV_EXAMPLE)
        for key, value in documented.items():
            probe = "54321" if value.isdigit() else '{"probe": true}' if value == "null" else "1.2.3.4" \
                if key == "BIND_ADDRESS" else f"probe-{key.lower()}"
            assert render(workdir, {**documented, key: probe}) != compose, f"{key} changes nothing"

    def test_every_variable_the_file_reads_is_documented(self):
        read = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE_FILE.read_text().replace("$$", "")))
        assert read <= set(env_file(ENV_EXAMPLE)), read - set(env_file(ENV_EXAMPLE))

    def test_header_says_how_to_start_it_where_to_look_and_how_to_go_real(self):
        header = COMPOSE_FILE.read_text().split("\n---", 1)[0]
        for needle in ("docker compose up", "http://localhost:8080", "http://localhost:8025", "PLOOMES_API_URL",
                       "PLOOMES_API_KEY", "SALES_DB_HOST", "SALES_DB_PASSWORD", "BIND_ADDRESS"):
            assert needle in header, needle


class TestImage:
    def test_dockerfile_extends_the_airflow_and_python_the_project_pins(self):
        (base,) = [line.split()[1] for line in dockerfile_lines() if line.startswith("FROM ")]
        match = re.fullmatch(r"apache/airflow:(?P<airflow>[\d.]+)-python(?P<python>\d+\.\d+)", base)
        assert match, base
        pinned = re.search(r"^apache-airflow==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
        assert match["airflow"] == pinned.group(1)
        resolved_for = re.search(r"on Python (\d+\.\d+)", (ROOT / "constraints.txt").read_text())
        assert match["python"] == resolved_for.group(1)

    def test_dockerfile_installs_the_requirements_with_the_constraints(self):
        copied = {source: dest for sources, dest in dockerfile_copies() for source in sources}
        requirements = str(PurePosixPath(copied["requirements.txt"]) / "requirements.txt")
        constraints = str(PurePosixPath(copied["constraints.txt"]) / "constraints.txt")
        assert any(f"-r {requirements}" in line and f"-c {constraints}" in line
                   for line in dockerfile_lines() if "pip install" in line)

    def test_the_image_carries_the_sync_only(self):
        assert "apache_airflow_provider" in (ROOT / "pyproject.toml").read_text()
        copied = {source.rstrip("/") for sources, _ in dockerfile_copies() for source in sources}
        assert {"pyproject.toml", "src", "include", "dags", "plugins"} <= copied
        assert not copied & {"devkit", "bench", "tests", "simulator"}, copied
        installs = [line for line in dockerfile_lines() if "pip install" in line and "--no-deps" in line]
        assert installs and all("--editable" not in line for line in installs)

    def test_build_context_lets_in_what_the_dockerfile_copies_and_nothing_private(self):
        patterns = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
                    if line.strip() and not line.startswith("#")]

        def ignored(path: str) -> bool:
            verdict = False
            for pattern in patterns:
                negated = pattern.startswith("!")
                pattern = pattern.lstrip("!")
                parts = PurePosixPath(path).parts
                prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
                if any(fnmatch(prefix, pattern) for prefix in prefixes):
                    verdict = not negated
            return verdict

        for sources, _ in dockerfile_copies():
            for source in sources:
                assert not ignored(source.rstrip("/")), source
        for inside in ("src/ploomes_sync/settings.py", "include/sql/merge/upsert.sql"):
            assert not ignored(inside), inside
        for private in (".env", ".venv/bin/python", ".git/config", "tests/conftest.py",
                        "devkit/ploomes_simulator/config.py", "src/ploomes_sync/__pycache__/settings.cpython-311.pyc"):
            assert ignored(private), private
