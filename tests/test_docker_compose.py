"""The local stack: docker-compose.yaml, docker/Dockerfile, docker/init.sh and .env.example.

No Docker engine runs where the tests run, so the stack is checked by reading it: the YAML is
parsed (PyYAML resolves the anchors and merge keys), docker compose's ``${VAR:-default}``
interpolation is applied with no variables set (what a plain ``docker compose up`` gets), and the
result must agree with itself and with the code: the connection ids, the pool, the ports.
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
from ploomes_sync.settings import API_POOL, PLOOMES_CONN_ID, SALES_DB_CONN_ID, SMTP_CONN_ID

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
DOCKERIGNORE = ROOT / "docker" / "Dockerfile.dockerignore"
INIT_SCRIPT = ROOT / "docker" / "init.sh"
ENV_EXAMPLE = ROOT / ".env.example"

AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
}
LONG_RUNNING_AIRFLOW = AIRFLOW_SERVICES - {"airflow-init"}
BACKING_SERVICES = {"postgres", "redis", "warehouse", "ploomes-simulator", "mailpit"}
AIRFLOW_HOME = PurePosixPath("/opt/airflow")

# Values that may stand where a secret goes: the simulator's documented demo key and the
# demo passwords of containers that only this machine can reach. Anything else comes from env.
DEMO_API_KEY = "ploomes-simulator-demo-key"
DEMO_SECRETS = {"", DEMO_API_KEY, "airflow", "sales-local-demo"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY($|_)")

_REFERENCE = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?|:\+|\+)(?P<arg>[^}]*))?\}"
)


# --- reading the files ------------------------------------------------------------------------------


def interpolate(value, env: dict[str, str] | None = None):
    """``value`` as docker compose interpolates it, with ``env`` as the variables (none: defaults)."""
    env = {} if env is None else env
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def resolve(match: re.Match) -> str:
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        current = env.get(name)
        if op in (":?", "?") and (current is None or (op == ":?" and current == "")):
            raise ValueError(f"compose would stop: {name} is required ({arg})")
        if op == ":-":
            return current if current else arg
        if op == "-":
            return current if current is not None else arg
        if op == ":+":
            return arg if current else ""
        if op == "+":
            return arg if current is not None else ""
        return current or ""

    return "$".join(_REFERENCE.sub(resolve, piece) for piece in value.split("$$"))


def references(text: str) -> list[tuple[str, str | None, str]]:
    """Every ``${NAME...}`` compose interpolates in ``text`` (``$${...}`` is an escape, not one)."""
    return [(m["name"], m["op"], m["arg"] or "") for m in _REFERENCE.finditer(text.replace("$$", ""))]


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


@pytest.fixture(scope="module")
def compose_text() -> str:
    return COMPOSE_FILE.read_text()


@pytest.fixture(scope="module")
def raw(compose_text) -> dict:
    """The compose file as parsed, anchors merged, ``${...}`` left as written."""
    return yaml.safe_load(compose_text)


@pytest.fixture(scope="module")
def compose(raw) -> dict:
    """The compose file as ``docker compose up`` sees it with no .env: every default applied."""
    return interpolate(raw)


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def common_env(compose) -> dict:
    return compose["x-airflow-common"]["environment"]


def connection(env: dict, conn_id: str) -> dict:
    return json.loads(env["AIRFLOW_CONN_" + conn_id.upper()])


def command_option(command: list[str], option: str) -> str:
    return command[command.index(option) + 1]


def mounts(service: dict) -> dict[str, str]:
    """Container path -> (source, options) of a service's short-syntax volumes."""
    found = {}
    for volume in service.get("volumes", []):
        source, target, *options = volume.split(":")
        found[target] = (source, options)
    return found


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def dockerfile_lines() -> list[str]:
    """Dockerfile instructions, one a line (continuations joined, comments dropped)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def dockerfile_copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY, flags dropped."""
    copies = []
    for line in dockerfile_lines():
        if line.startswith("COPY "):
            *sources, destination = [word for word in line.split()[1:] if not word.startswith("--")]
            copies.append((sources, destination))
    return copies


# --- the services -------------------------------------------------------------------------------------


class TestServices:
    def test_stack_has_the_official_airflow_services_and_what_the_dag_talks_to(self, services):
        assert AIRFLOW_SERVICES | BACKING_SERVICES <= set(services)

    def test_every_airflow_service_is_built_from_the_common_anchor(self, compose, services):
        common = compose["x-airflow-common"]
        for name in AIRFLOW_SERVICES:
            service = services[name]
            for key in ("build", "image", "volumes"):
                assert service[key] == common[key], f"{name}.{key} differs from x-airflow-common"
            if name != "airflow-init":  # init alone runs as root, to chown the volumes
                assert service["user"] == common["user"], name
            for key, value in common["environment"].items():
                assert service["environment"].get(key) == value, f"{name} changes {key}"

    def test_image_is_built_from_the_project_dockerfile(self, compose):
        build = compose["x-airflow-common"]["build"]
        assert (ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE

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
        assert url.hostname == "airflow-apiserver"
        assert services["airflow-apiserver"]["command"] == "api-server"
        published = [port_of(p) for p in services["airflow-apiserver"]["ports"]]
        assert url.port in published
        assert url.path == "/execution/"

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
        assert [port_of(p) for p in mailpit["ports"]] == [8025]


# --- what is mounted where ------------------------------------------------------------------------------


class TestMounts:
    def test_dags_plugins_and_include_are_mounted_where_airflow_looks(self, compose, common_env):
        volumes = mounts(compose["x-airflow-common"])
        assert volumes[common_env["AIRFLOW__CORE__DAGS_FOLDER"]][0] == "./dags"
        assert volumes[common_env["AIRFLOW__CORE__PLUGINS_FOLDER"]][0] == "./plugins"
        assert volumes[str(AIRFLOW_HOME / "include")][0] == "./include"

    def test_mounted_tree_mirrors_the_repository_where_the_project_is_installed(self, compose):
        by_source = {source: PurePosixPath(target) for target, (source, _) in
                     mounts(compose["x-airflow-common"]).items()}
        for folder in ("dags", "plugins", "include"):
            assert by_source[f"./{folder}"] == AIRFLOW_HOME / folder
        # The editable install maps ploomes_sync to <project root>/plugins: the mounted folder.
        installs = [line for line in dockerfile_lines() if "pip install" in line and "--editable" in line]
        assert len(installs) == 1 and installs[0].split()[-1] == str(AIRFLOW_HOME)
        copied = {tuple(sources): PurePosixPath(dest) for sources, dest in dockerfile_copies()}
        assert copied[("plugins/",)] == AIRFLOW_HOME / "plugins"
        assert copied[("pyproject.toml",)] == AIRFLOW_HOME / "pyproject.toml"

    def test_repository_is_mounted_read_only(self, compose):
        for _, (source, options) in mounts(compose["x-airflow-common"]).items():
            if source.startswith("./"):
                assert "ro" in options, source

    def test_logs_and_secrets_live_in_named_volumes(self, compose):
        volumes = mounts(compose["x-airflow-common"])
        for target in ("/opt/airflow/logs", "/opt/airflow/secrets"):
            assert volumes[target][0] in compose["volumes"], target


# --- connections, Variable, pool ---------------------------------------------------------------------------


class TestConnections:
    def test_env_names_are_exactly_the_connection_and_variable_ids_the_code_uses(self, common_env):
        connections = {key for key in common_env if key.startswith("AIRFLOW_CONN_")}
        variables = {key for key in common_env if key.startswith("AIRFLOW_VAR_")}
        assert connections == {"AIRFLOW_CONN_" + conn_id.upper()
                               for conn_id in (PLOOMES_CONN_ID, SALES_DB_CONN_ID, SMTP_CONN_ID)}
        assert variables == {"AIRFLOW_VAR_" + ALERT_EMAILS_VARIABLE.upper()}

    def test_connection_values_are_json_that_airflow_reads(self, common_env):
        from airflow.sdk import Connection

        for conn_id in (PLOOMES_CONN_ID, SALES_DB_CONN_ID, SMTP_CONN_ID):
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
        assert conn["conn_type"] == "postgres"
        assert conn["host"] == "warehouse"
        assert conn["port"] == 5432  # PostgreSQL's port inside the network
        assert conn["schema"] == warehouse["POSTGRES_DB"]
        assert conn["login"] == warehouse["POSTGRES_USER"]
        assert conn["password"] == warehouse["POSTGRES_PASSWORD"]

    def test_smtp_connection_reaches_mailpit_on_its_smtp_port_without_tls(self, common_env, services):
        conn = connection(common_env, SMTP_CONN_ID)
        assert conn["conn_type"] == "smtp"
        assert conn["host"] == "mailpit"
        assert conn["port"] == port_of(services["mailpit"]["environment"]["MP_SMTP_BIND_ADDR"])
        assert conn["extra"]["disable_tls"] is True and conn["extra"]["disable_ssl"] is True
        assert "@" in conn["extra"]["from_email"]
        assert "login" not in conn and "password" not in conn  # Mailpit takes no login

    def test_alert_recipients_default_to_an_address(self, common_env):
        assert "@" in common_env["AIRFLOW_VAR_" + ALERT_EMAILS_VARIABLE.upper()]

    def test_real_ploomes_and_supabase_are_reached_by_setting_env_alone(self, raw):
        env = {
            "PLOOMES_API_URL": "https://public-api2.ploomes.com",
            "PLOOMES_API_KEY": "a-user-key",
            "SALES_DB_HOST": "aws-0-sa-east-1.pooler.supabase.com",
            "SALES_DB_PORT": "6543",
            "SALES_DB_NAME": "postgres",
            "SALES_DB_USER": "postgres.project",
            "SALES_DB_PASSWORD": "a-password",
            "SALES_DB_EXTRA": '{"sslmode": "require", "prepare_threshold": null}',
        }
        common_env = interpolate(raw["x-airflow-common"]["environment"], env)
        ploomes = connection(common_env, PLOOMES_CONN_ID)
        assert (ploomes["host"], ploomes["password"]) == ("https://public-api2.ploomes.com", "a-user-key")
        sales_db = connection(common_env, SALES_DB_CONN_ID)
        assert sales_db["host"] == "aws-0-sa-east-1.pooler.supabase.com" and sales_db["port"] == 6543
        assert (sales_db["login"], sales_db["password"]) == ("postgres.project", "a-password")
        assert sales_db["extra"] == {"sslmode": "require", "prepare_threshold": None}


class TestInit:
    def test_init_runs_the_script_the_image_ships(self, services):
        init = services["airflow-init"]
        assert init["entrypoint"] == "/bin/bash"
        shipped = {dest for sources, dest in dockerfile_copies() if sources == ["docker/init.sh"]}
        assert init["command"] == [shipped.pop()]
        assert init["user"] == "0:0"

    def test_init_creates_the_api_pool_with_one_slot(self):
        pools = re.findall(r"airflow pools set (\S+) (\d+) ", INIT_SCRIPT.read_text())
        assert pools == [(API_POOL, "1")]

    def test_init_migrates_the_database_before_creating_the_pool(self):
        script = INIT_SCRIPT.read_text()
        assert 0 <= script.index("airflow db migrate") < script.index("airflow pools set")

    def test_init_stops_at_the_first_failure(self):
        assert "set -euo pipefail" in INIT_SCRIPT.read_text()

    @pytest.mark.skipif(shutil.which("bash") is None, reason="no bash here")
    def test_init_script_is_valid_bash(self):
        result = subprocess.run(["bash", "-n", str(INIT_SCRIPT)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr

    def test_init_generates_every_secret_the_components_read(self, common_env, compose):
        secrets_dir = PurePosixPath("/opt/airflow/secrets")
        assert str(secrets_dir) in mounts(compose["x-airflow-common"])
        script = INIT_SCRIPT.read_text()
        assert f"SECRETS_DIR={secrets_dir}" in script
        commands = {key: value for key, value in common_env.items() if key.endswith("_CMD")}
        assert set(commands) == {
            "AIRFLOW__CORE__FERNET_KEY_CMD",
            "AIRFLOW__API_AUTH__JWT_SECRET_CMD",
            "AIRFLOW__API__SECRET_KEY_CMD",
        }
        for key, value in commands.items():
            program, path = value.split()
            assert program == "cat" and PurePosixPath(path).parent == secrets_dir, key
            assert f'"{PurePosixPath(path).name}"' in script, f"init.sh does not create {path}"


class TestSimulator:
    def test_simulator_runs_the_module_on_the_port_the_connection_uses(self, services, common_env):
        command = services["ploomes-simulator"]["command"]
        assert command[:3] == ["python", "-m", "ploomes_simulator"]
        assert command_option(command, "--host") == "0.0.0.0"
        port = int(command_option(command, "--port"))
        assert urlsplit(connection(common_env, PLOOMES_CONN_ID)["host"]).port == port
        assert int(command_option(command, "--deals")) == 30000
        assert [port_of(p) for p in services["ploomes-simulator"]["ports"]] == [port]

    def test_simulator_accepts_the_key_the_connection_sends(self, services, common_env, raw):
        from ploomes_simulator.config import DEMO_API_KEY as simulator_demo_key

        key = command_option(services["ploomes-simulator"]["command"], "--api-key")
        assert key == connection(common_env, PLOOMES_CONN_ID)["password"] == simulator_demo_key
        raw_key = command_option(raw["services"]["ploomes-simulator"]["command"], "--api-key")
        assert raw_key.startswith("${"), "the simulator's key must come from the environment"

    def test_simulator_healthcheck_asks_its_own_port(self, services):
        simulator = services["ploomes-simulator"]
        port = command_option(simulator["command"], "--port")
        assert f", {port}," in " ".join(simulator["healthcheck"]["test"])

    def test_simulator_runs_from_the_project_image_without_airflow_s_entrypoint(self, services, compose):
        simulator = services["ploomes-simulator"]
        assert simulator["image"] == compose["x-airflow-common"]["image"]
        assert simulator["build"] == compose["x-airflow-common"]["build"]
        assert simulator["entrypoint"] == ["/usr/bin/dumb-init", "--"]
        assert not any(key.startswith("AIRFLOW_CONN_") for key in simulator.get("environment", {}))


class TestStartOrder:
    def test_backing_services_have_healthchecks(self, services):
        for name in BACKING_SERVICES:
            assert services[name]["healthcheck"]["test"], name

    def test_long_running_airflow_services_have_healthchecks(self, services):
        for name in LONG_RUNNING_AIRFLOW:
            assert services[name]["healthcheck"]["test"], name

    def test_airflow_services_wait_for_healthy_postgres_and_redis(self, services):
        for name in AIRFLOW_SERVICES:
            depends = services[name]["depends_on"]
            for backing in ("postgres", "redis"):
                assert depends[backing] == {"condition": "service_healthy"}, (name, backing)

    def test_airflow_services_wait_for_init_to_succeed(self, services):
        for name in LONG_RUNNING_AIRFLOW:
            depends = services[name]["depends_on"]
            assert depends["airflow-init"] == {"condition": "service_completed_successfully"}, name

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
        published = 0
        for name, service in services.items():
            for port in service.get("ports", []):
                assert isinstance(port, str), f"{name}: use HOST_IP:HOST:CONTAINER"
                host_ip, _host, _container = port.split(":")
                assert host_ip == "127.0.0.1", f"{name} publishes {port}"
                published += 1
            assert service.get("network_mode") != "host", name
        assert published >= 2  # the UI and Mailpit at least

    def test_bind_address_is_one_setting(self, raw):
        for service in raw["services"].values():
            for port in service.get("ports", []):
                assert port.startswith("${BIND_ADDRESS:-127.0.0.1}:"), port


# --- no secrets in the repository ---------------------------------------------------------------------------


class TestSecrets:
    def test_no_secret_setting_is_written_as_a_literal(self, raw):
        environments = [raw["x-airflow-common"]["environment"]]
        environments += [service.get("environment", {}) for service in raw["services"].values()]
        for env in environments:
            for key, value in env.items():
                if key.endswith(("_CMD", "_FILE")) or not SECRET_NAME.search(key):
                    continue  # where a secret is kept, not the secret
                assert re.fullmatch(r"\$\{[^}]+\}", str(value)), f"{key} must come from the environment"

    def test_connection_passwords_come_from_the_environment(self, raw):
        for key, value in raw["x-airflow-common"]["environment"].items():
            if key.startswith("AIRFLOW_CONN_"):
                for password in re.findall(r'"password":\s*"([^"]*)"', value):
                    assert re.fullmatch(r"\$\{[^}]+\}", password), key

    def test_secret_variables_default_only_to_demo_values(self, compose_text):
        for name, op, arg in references(compose_text):
            if SECRET_NAME.search(name) and op in (":-", "-"):
                assert arg in DEMO_SECRETS, f"${{{name}}} defaults to {arg!r}"

    def test_demo_key_is_the_simulator_s_own(self):
        from ploomes_simulator.config import DEMO_API_KEY as simulator_demo_key

        assert simulator_demo_key == DEMO_API_KEY

    def test_no_file_holds_a_string_that_looks_like_a_real_key(self):
        looks_like_a_key = re.compile(
            r"(?<![A-Za-z0-9])(?:[0-9A-Fa-f]{24,}|(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{32,})"
            r"(?![A-Za-z0-9])"
        )
        for path in (COMPOSE_FILE, ENV_EXAMPLE, DOCKERFILE, INIT_SCRIPT):
            found = looks_like_a_key.findall(path.read_text())
            assert found == [], f"{path.name}: {found}"

    def test_env_example_holds_only_demo_secrets(self):
        for key, value in env_file(ENV_EXAMPLE).items():
            if SECRET_NAME.search(key):
                assert value in DEMO_SECRETS, key


# --- documentation and interpolation ------------------------------------------------------------------------


class TestDocumentation:
    def test_every_variable_the_compose_file_reads_is_in_env_example_with_its_default(self, compose_text):
        documented = env_file(ENV_EXAMPLE)
        for name, op, arg in references(compose_text):
            assert name in documented, f"{name} is not in .env.example"
            if op in (":-", "-"):
                assert documented[name] == arg, f"{name}: .env.example {documented[name]!r}, compose {arg!r}"

    def test_every_dollar_is_a_reference_or_an_escape(self, compose_text):
        stray = _REFERENCE.sub("", compose_text.replace("$$", ""))
        assert "$" not in stray

    def test_interpolation_needs_no_env_file(self, raw):
        interpolate(raw)  # a ${VAR:?} would raise: `docker compose up` must work without .env

    def test_header_says_how_to_start_it_where_to_look_and_how_to_go_real(self, compose_text):
        header = compose_text.split("\n---", 1)[0]
        for needle in ("docker compose up", "http://localhost:8080", "http://localhost:8025",
                       "PLOOMES_API_URL", "PLOOMES_API_KEY", "SALES_DB_HOST", "SALES_DB_PASSWORD",
                       "BIND_ADDRESS"):
            assert needle in header, needle


# --- the image ------------------------------------------------------------------------------------------


class TestImage:
    def test_dockerfile_extends_the_airflow_and_python_the_project_pins(self):
        (base,) = [line.split()[1] for line in dockerfile_lines() if line.startswith("FROM ")]
        match = re.fullmatch(r"apache/airflow:(?P<airflow>[\d.]+)-python(?P<python>\d+\.\d+)", base)
        assert match, base
        pinned = re.search(r"^apache-airflow==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
        assert match["airflow"] == pinned.group(1)
        resolved_for = re.search(r"on Python (\d+\.\d+)", (ROOT / "constraints.txt").read_text())
        assert match["python"] == resolved_for.group(1)
        minimum = re.search(r'requires-python\s*=\s*">=(\d+)\.(\d+)"', (ROOT / "pyproject.toml").read_text())
        assert tuple(map(int, match["python"].split("."))) >= tuple(map(int, minimum.groups()))

    def test_dockerfile_installs_the_requirements_with_the_constraints(self):
        copied = {source: dest for sources, dest in dockerfile_copies() for source in sources}
        requirements = str(PurePosixPath(copied["requirements.txt"]) / "requirements.txt")
        constraints = str(PurePosixPath(copied["constraints.txt"]) / "constraints.txt")
        assert any(f"-r {requirements}" in line and f"-c {constraints}" in line
                   for line in dockerfile_lines() if "pip install" in line)

    def test_dockerfile_installs_the_project_so_its_provider_entry_point_registers(self):
        assert "apache_airflow_provider" in (ROOT / "pyproject.toml").read_text()
        installs = [line for line in dockerfile_lines() if "pip install" in line and "--no-deps" in line]
        assert installs, "the project itself is not pip-installed"
        copied = {source.rstrip("/") for sources, _ in dockerfile_copies() for source in sources}
        assert {"pyproject.toml", "plugins", "simulator", "devkit"} <= copied

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
        for inside in ("plugins/ploomes_sync/settings.py", "simulator/ploomes_simulator/config.py"):
            assert not ignored(inside), inside
        for private in (".env", ".venv/bin/python", ".git/config", "tests/conftest.py",
                        "plugins/ploomes_sync/__pycache__/settings.cpython-311.pyc"):
            assert ignored(private), private
