#!/usr/bin/env bash
# One-shot set-up of the local stack, run as root by the airflow-init service of
# docker-compose.yaml. Every other Airflow component waits until it has finished successfully.
# Each step is idempotent, so it runs again, harmlessly, on every `docker compose up`.
#
#   1. the secrets the components must share (JWT, API secret key, Fernet key): generated once
#      into the airflow-secrets volume, read by Airflow through AIRFLOW__..._CMD settings;
#   2. the UI's admin login (simple auth manager): AIRFLOW_ADMIN_PASSWORD, or a generated one;
#   3. the metadata database schema (airflow db migrate);
#   4. the pool that holds the Ploomes account's request budget across tasks and runs;
#   5. ownership of the shared volumes for the user the components run as (AIRFLOW_UID).
set -euo pipefail

AIRFLOW_UID="${AIRFLOW_UID:-50000}"
SECRETS_DIR=/opt/airflow/secrets
export SECRETS_DIR

echo "[init 1/5] shared secrets in ${SECRETS_DIR}"
echo "[init 2/5] admin login"
# Standard library only: this runs before anything of Airflow's is configured.
python - <<'PY'
import base64
import json
import os
import secrets

secrets_dir = os.environ["SECRETS_DIR"]
os.makedirs(secrets_dir, exist_ok=True)


def write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def keep_or_create(name: str, make) -> None:
    path = os.path.join(secrets_dir, name)
    if os.path.exists(path) and os.path.getsize(path) > 0:
        print(f"  {name}: kept")
        return
    write(path, make())  # no trailing newline: Airflow reads the file's bytes as the value
    print(f"  {name}: generated")


keep_or_create("jwt_secret", lambda: secrets.token_urlsafe(64))
keep_or_create("api_secret_key", lambda: secrets.token_urlsafe(64))
# Same format as cryptography's Fernet.generate_key(): 32 random bytes, url-safe base64.
keep_or_create("fernet_key", lambda: base64.urlsafe_b64encode(os.urandom(32)).decode())

passwords_file = os.path.join(secrets_dir, "simple_auth_manager_passwords.json")
passwords = {}
if os.path.exists(passwords_file) and os.path.getsize(passwords_file) > 0:
    with open(passwords_file, encoding="utf-8") as handle:
        passwords = json.load(handle)
username = os.environ.get("AIRFLOW_ADMIN_USERNAME") or "airflow"
given = os.environ.get("AIRFLOW_ADMIN_PASSWORD", "")
if given:
    passwords[username] = given
    print(f"  user {username!r}: password from AIRFLOW_ADMIN_PASSWORD")
elif username in passwords:
    print(f"  user {username!r}: password kept (docker compose exec airflow-apiserver cat {passwords_file})")
else:
    passwords[username] = secrets.token_urlsafe(12)
    print(f"  user {username!r}: generated password {passwords[username]} (kept in {passwords_file})")
write(passwords_file, json.dumps(passwords) + "\n")
PY

# The image's entrypoint waits until the metadata database answers, then runs the command.
echo "[init 3/5] metadata database"
/entrypoint airflow db migrate

echo "[init 4/5] pool"
/entrypoint airflow pools set ploomes_api 3 "Ploomes API: tasks calling it at once (the budget is in the warehouse)"

echo "[init 5/5] ownership of the shared volumes (uid ${AIRFLOW_UID}, group 0)"
chown -R "${AIRFLOW_UID}:0" /opt/airflow/logs "${SECRETS_DIR}"
chmod 0750 "${SECRETS_DIR}"
find "${SECRETS_DIR}" -type f -exec chmod 0640 {} +

echo "[init] done"
