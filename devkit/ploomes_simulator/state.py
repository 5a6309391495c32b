"""What the simulator does with a request, apart from HTTP: the API and the admin endpoints.

API requests go through, in order: fault injection (an injected error, 429 or dropped
connection answers at once and takes no rate-limit slot), authentication (a bad key is
answered with the configured 401/403 and takes no slot either, since it names no account),
the rate limit (an admitted request takes a slot whatever its answer), then the query itself
(an injected ``slow`` waits first, an injected ``malformed`` truncates the body after).
"""

from __future__ import annotations

import base64
import json
import logging
import random
import re
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

from . import commerce, data, vocabulary
from .config import RUNTIME_SETTINGS, SimulatorConfig, ignored_option_names, validate_settings
from .dates import now_string, parse_ticks, render, sao_paulo_midnight
from .faults import ERROR_STATUS_KINDS, WRONG_ANSWERS, FaultInjector, normalize_path
from .odata import ODataError, parse_query
from .ratelimit import RollingWindowLimiter
from .requestlog import RequestLog
from .schema import (
    ACCOUNT,
    BOOLEAN,
    CONTACT_TYPES,
    CONTACTS,
    DATETIME,
    DEAL_STATUSES,
    DEALS,
    DECIMAL,
    FIELDS,
    INT,
    LOSS_REASONS,
    OPTIONS,
    OPTIONS_TABLES,
    ORDER_LINES,
    ORDERS,
    PIPELINES,
    PRODUCTS,
    QUOTE_LINES,
    QUOTES,
    STAGES,
    STRING,
    USERS,
    EntitySchema,
)
from .store import Table, integer_id, to_json
from .webhooks import ACTIONS, WebhookError, Webhooks

log = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
ADMIN_PREFIX = "/_admin"
# what the admin endpoints create, change, delete and show
ENTITIES = ("deals", "contacts", "users", "products", "orders", "quotes", "fields", "options_tables", "pipelines",
            "stages", "loss_reasons")
SCHEMAS = {"deals": DEALS, "contacts": CONTACTS, "users": USERS, "products": PRODUCTS, "orders": ORDERS,
           "quotes": QUOTES, "fields": FIELDS, "options_tables": OPTIONS_TABLES, "pipelines": PIPELINES,
           "stages": STAGES, "loss_reasons": LOSS_REASONS}
# The URL of each entity set (the admin's name -> the API's path, lower case)
PATHS = {"deals": "/deals", "contacts": "/contacts", "users": "/users", "products": "/products",
         "orders": "/orders", "quotes": "/quotes", "fields": "/fields", "options_tables": "/fields@optionstables",
         "pipelines": "/deals@pipelines", "stages": "/deals@stages", "loss_reasons": "/deals@lossreasons"}
WITH_CUSTOM_VALUES = ("deals", "contacts", "products", "orders", "quotes")


@dataclass
class Response:
    """What to send back; ``drop`` means close the connection without answering."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    drip: float = 0.0  # seconds between two bytes of the body (a server that dribbles its answer)


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None,
                   shape: str = "odata", base_url: str = "") -> Response:
    """An error in one of the shapes seen in the wild (``ERROR_SHAPES``): OData
    ``{"error": {"code", "message"}}``, ASP.NET ``{"Message"}``, or the message as a bare string
    under ``value`` beside ``@odata.context``."""
    if shape == "aspnet":
        document: dict[str, Any] = {"Message": message}
    elif shape == "value":
        document = {"@odata.context": f"{base_url}/$metadata#Edm.String", "value": message}
    else:
        document = {"error": {"code": code, "message": message}}
    return Response(status, to_json(document), dict(headers or {}))


def json_response(value: Any, status: int = 200) -> Response:
    """A JSON document."""
    return Response(status, to_json(value))


class AdminRequestError(Exception):
    """An admin request that cannot be carried out (status and message for the answer)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_ERROR_CODES = {
    400: "BadRequest",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


class SimulatorState:
    """The data, the run-time settings, the faults, the rate limiter and the request log."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.initial = replace(config)
        self.base_url = f"http://{config.host}:{config.port}"
        self._lock = threading.RLock()  # guards the tables and the settings
        self._end = data.default_end()
        self.faults = FaultInjector()
        self.limiter = RollingWindowLimiter(config.rate_limit)
        self.log = RequestLog()
        self.settings = replace(config)
        self.deals = Table(DEALS)
        self.contacts = Table(CONTACTS)
        self.users = Table(USERS)
        self.products = Table(PRODUCTS)
        self.orders = Table(ORDERS)
        self.quotes = Table(QUOTES)
        self.fields = Table(FIELDS)
        self.options_tables = Table(OPTIONS_TABLES)
        self.pipelines = Table(PIPELINES)
        self.stages = Table(STAGES)
        self.loss_reasons = Table(LOSS_REASONS)
        self.vocabulary = vocabulary.Vocabulary(lambda: self.fields.records(), lambda: self.options_tables.records(),
                                                lambda user_id: self.users.get(user_id))
        self._next_deal_number = 1
        self._rng = random.Random(config.seed)
        self._latency_rng = random.Random(f"latency-{config.seed}")
        self.webhooks = Webhooks(lambda: self.settings, config.seed)
        self._static = {
            "/account": Table(ACCOUNT, [dict(data.ACCOUNT_RECORD)]),
            "/deals@status": Table(DEAL_STATUSES, [dict(r) for r in data.DEAL_STATUS_RECORDS]),
            "/contacts@types": Table(CONTACT_TYPES, [dict(r) for r in data.CONTACT_TYPE_RECORDS]),
        }
        self._load_data()

    def _load_data(self) -> None:
        started = time.monotonic()
        dataset = data.generate(self.initial.deals, self.initial.contacts, self.initial.seed, self._end,
                                self.initial.dated_ahead_percent)
        with self._lock:
            self.users = Table(USERS, data.generate_users(self._end))
            self.fields = Table(FIELDS, vocabulary.generate_fields(self.initial.seed))
            self.options_tables = Table(OPTIONS_TABLES, vocabulary.generate_options_tables(self._end))
            self.pipelines = Table(PIPELINES, [dict(r) for r in vocabulary.PIPELINE_RECORDS])
            self.stages = Table(STAGES, vocabulary.generate_stages(data.PIPELINES))
            self.loss_reasons = Table(LOSS_REASONS, vocabulary.generate_loss_reasons(data.LOSS_REASON_IDS))
            users = list(data.USER_IDS)
            for entity, records in (("deals", dataset.deals), ("contacts", dataset.contacts),
                                    ("products", dataset.products), ("orders", dataset.orders),
                                    ("quotes", dataset.quotes)):
                for record in records:
                    record["OtherProperties"] = self.vocabulary.values(entity, record["Id"], self.initial.seed, users)
            custom = {entity: (lambda record, entity=entity: self.vocabulary.items(entity, record))
                      for entity in WITH_CUSTOM_VALUES}
            self.deals = Table(DEALS, dataset.deals, custom=custom["deals"])
            self.contacts = Table(CONTACTS, dataset.contacts, custom=custom["contacts"])
            self.products = Table(PRODUCTS, dataset.products, custom=custom["products"])
            self.orders = Table(ORDERS, dataset.orders, products=self.products.get, custom=custom["orders"])
            self.quotes = Table(QUOTES, dataset.quotes, products=self.products.get, custom=custom["quotes"])
            self._next_deal_number = 1 + max((d["DealNumber"] for d in dataset.deals), default=1000)
            self._rng = random.Random(f"new-ids-{self.initial.seed}")
        log.info(
            "Generated %d deals, %d contacts, %d products, %d quotes and %d orders (seed %d) in %.1f s",
            len(dataset.deals),
            len(dataset.contacts),
            len(dataset.products),
            len(dataset.quotes),
            len(dataset.orders),
            self.initial.seed,
            time.monotonic() - started,
        )

    def _table(self, path: str) -> Table | None:
        key = normalize_path(path)
        for entity, entity_path in PATHS.items():
            if key == entity_path:
                return self._entity_table(entity)
        if key == "/fields@optionstables@options":  # every option, flat (one table's: $filter=TableId eq N)
            return Table(OPTIONS, [dict(o) for t in self.options_tables.records() for o in t.get("Options") or ()])
        if key in ("/orders@products", "/quotes@products"):  # every line of every order (quote), flat
            parent, schema = (self.orders, ORDER_LINES) if key.startswith("/orders") else (self.quotes, QUOTE_LINES)
            return Table(schema, [line for record in parent.records() for line in record.get("Products") or ()
                                  if isinstance(line, dict) and type(line.get("Id")) is int])
        return self._static.get(key)

    # --- the API ---------------------------------------------------------------------------

    def handle_api(self, method: str, path: str, query_string: str, user_key: str | None,
                   body: bytes = b"") -> Response:
        """Answer one API request (logged, faults and limits applied)."""
        started = time.time()
        params = parse_qsl(query_string, keep_blank_values=True)
        fault = self.faults.pick(path, dict(params).get("$filter", ""))
        response = self._api_response(method, path, params, user_key, fault, body)
        self._wait_latency()
        self.log.record(
            started, method, path, dict(params), None if response.drop else response.status, fault, time.time()
        )
        return response

    def _wait_latency(self) -> None:
        """The configured latency, plus its random jitter (or, for the tail's share, the tail's), before
        any API answer goes out."""
        settings = self.settings
        delay = settings.latency_seconds
        with self._lock:
            if settings.latency_tail_percent and self._latency_rng.random() * 100 < settings.latency_tail_percent:
                delay = settings.latency_tail_seconds
            elif settings.latency_jitter_seconds:
                delay += self._latency_rng.uniform(0, settings.latency_jitter_seconds)
        if delay > 0:
            time.sleep(delay)

    def _error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        """An API error in the configured ``error_shape``."""
        return error_response(status, code, message, headers, shape=self.settings.error_shape,
                              base_url=self.base_url)

    def _api_response(
        self, method: str, path: str, params: list[tuple[str, str]], user_key: str | None, fault: str | None,
        body: bytes = b"",
    ) -> Response:
        if fault == "drop":
            return Response(0, drop=True)
        if fault in ERROR_STATUS_KINDS:
            status = int(fault)
            return self._error(status, _ERROR_CODES[status], f"Simulated {status} error.")
        settings = self.settings  # replaced as a whole on change, never mutated
        if fault == "429":
            return self._throttled(self.limiter.wait_seconds(), settings)
        if fault == "redirect":  # a proxy in front of the API, before any key is looked at
            query = f"?{urlencode(params)}" if params else ""
            return Response(301, b"", {"Location": f"{settings.redirect_to.rstrip('/')}{path}{query}"})
        if user_key is not None and user_key == settings.api_key and normalize_path(path) in {
                normalize_path(p) for p in ignored_option_names(settings.forbidden_paths)}:
            return self._error(403, "Forbidden", "The integration user has no permission for this resource.")
        if user_key is None or user_key != settings.api_key:
            message = "The User-Key header is missing, wrong or expired, or its integration user lacks permission."
            if settings.echo_key and user_key:
                message += (f" Key given: {user_key.lower()} ({base64.b64encode(user_key.encode()).decode()});"
                            f" begins {user_key[: len(user_key) // 2]}.")
            return self._error(settings.auth_status, "AuthenticationFailed", message)
        wait = self.limiter.acquire()
        if wait is not None:
            return self._throttled(wait, settings)
        if fault == "slow":
            time.sleep(settings.slow_seconds)
        if normalize_path(path).startswith("/webhooks"):
            return self._serve_webhooks(method, normalize_path(path), body)
        asked = params
        if fault == "endless":  # Id gt ignored: the list from its start, renumbered past the bound below
            params = [(key, re.sub(r"\bId gt \d+", "Id gt 0", value) if key == "$filter" else value)
                      for key, value in params]
        response = self._serve_list(method, path, params, settings)
        if fault == "malformed":
            return Response(200, response.body[: max(1, len(response.body) // 2)], dict(response.headers))
        if fault in WRONG_ANSWERS and response.status == 200:
            return _wrong_answer(fault, response, asked, settings)
        return response

    def _throttled(self, wait: int, settings: SimulatorConfig) -> Response:
        headers = {"Retry-After": str(wait)} if settings.retry_after else {}
        return self._error(429, "TooManyRequests", "API rate limit exceeded.", headers)

    def _serve_webhooks(self, method: str, path: str, body: bytes) -> Response:
        """``/Webhooks`` (GET, POST), ``/Webhooks(<id>)`` (DELETE), ``/Webhooks@Actions`` (GET)."""
        context = to_json(f"{self.base_url}/$metadata#Webhooks")
        if path == "/webhooks@actions" and method == "GET":
            actions = [{"Id": action_id, "Name": name} for action_id, name in ACTIONS]
            return json_response({"@odata.context": json.loads(context), "value": actions})
        if path == "/webhooks" and method == "GET":
            return json_response({"@odata.context": json.loads(context), "value": self.webhooks.list()})
        if path == "/webhooks" and method == "POST":
            try:
                payload = json.loads(body) if body.strip() else None
                created = self.webhooks.create(payload)
            except (ValueError, WebhookError) as exc:
                return self._error(400, "BadRequest", str(exc))
            return json_response({"value": [created]})
        match = re.fullmatch(r"/webhooks\((\d+)\)", path)
        if match and method == "DELETE":
            if not self.webhooks.delete(int(match.group(1))):
                return self._error(404, "NotFound", f"No webhook with Id {match.group(1)}.")
            return Response(204)
        return self._error(405 if match or path == "/webhooks" else 404, "MethodNotAllowed"
                              if match or path == "/webhooks" else "NotFound", f"{method} {path} is not supported.")

    def _serve_list(
        self, method: str, path: str, params: list[tuple[str, str]], settings: SimulatorConfig
    ) -> Response:
        table = self._table(path)
        if table is None:
            return self._error(
                404, "NotFound", f"No HTTP resource was found that matches the request URI '{path}'."
            )
        if method != "GET":
            return self._error(
                405, "MethodNotAllowed", f"The requested resource does not support {method}."
            )
        refusing = ignored_option_names(settings.refused_options)
        refused = [key for key, _ in params if key in refusing]
        if refused:
            return self._error(400, "BadRequest", f"The query parameter '{refused[0]}' is not supported.")
        ignored = ignored_option_names(settings.ignored_options)
        if ignored:
            params = [(key, value) for key, value in params if key not in ignored]
        try:
            query = parse_query(params, table.schema, settings.count_supported, settings.max_page_size)
        except ODataError as exc:
            return self._error(400, "BadRequest", str(exc))
        if settings.expand_timeout_top and query.expand.lines is not None and query.top > settings.expand_timeout_top:
            return self._error(504, "GatewayTimeout", f"The request timed out expanding Products of {query.top} "
                               f"{table.schema.name}; ask for fewer records per page.")
        if table is self.deals and settings.hidden_deals_percent:
            _hide(query, settings.hidden_deals_percent)
        with self._lock:
            fragments, count = table.query(query)
        context = to_json(f"{self.base_url}/$metadata#{table.schema.name}")
        head = b'{"@odata.context":' + context + b","
        if count is not None:
            head += b'"@odata.count":' + str(count).encode() + b","
        body = head + b'"value":[' + b",".join(fragments) + b"]}"
        return Response(200, body, {"OData-Version": "4.0"})

    # --- the admin endpoints ---------------------------------------------------------------

    def handle_admin(self, method: str, path: str, query_string: str, body: bytes) -> Response:
        """Answer one admin request (never logged, limited or faulted)."""
        parts = [part for part in path[len(ADMIN_PREFIX) :].split("/") if part]
        params = dict(parse_qsl(query_string, keep_blank_values=True))
        try:
            payload = json.loads(body) if body.strip() else None
        except ValueError as exc:
            return error_response(400, "BadRequest", f"The body is not valid JSON: {exc}")
        try:
            return self._route_admin(method, parts, params, payload)
        except AdminRequestError as exc:
            return error_response(exc.status, _ERROR_CODES.get(exc.status, "Error"), exc.message)
        except ValueError as exc:  # invalid settings or fault configuration (FaultConfigError)
            return error_response(400, "BadRequest", str(exc))

    def _route_admin(self, method: str, parts: list[str], params: dict[str, str], payload: Any) -> Response:
        raw = params.get("raw", "") in ("1", "true")
        if parts[:1] == ["truth"] and len(parts) == 2 and parts[1] in ENTITIES:
            _allow(method, "GET")
            with self._lock:
                return Response(200, self._entity_table(parts[1]).truth(custom=params.get("custom") in ("1", "true")))
        if parts[:1] and parts[0] in ENTITIES:
            return self._route_records(method, parts, raw, payload)
        if parts == ["mutate"]:
            _allow(method, "POST")
            return json_response(self.mutate(**_object(payload, {"updates", "deletes", "creates", "seed", "orders",
                                                                 "price_changes", "commerce_deletes"})))
        if parts == ["config"]:
            _allow(method, "GET", "PUT")
            if method == "PUT":
                self.configure(_object(payload, set(RUNTIME_SETTINGS)))
            return json_response(self.config_dict())
        if parts == ["faults"]:
            _allow(method, "GET", "PUT", "DELETE")
            if method == "PUT":
                settings = _object(payload, {"schedule", "probability", "seed"})
                self.faults.configure(
                    settings.get("schedule"), settings.get("probability"), settings.get("seed", 0)
                )
            elif method == "DELETE":
                self.faults.clear()
            return json_response(self.faults.describe())
        if parts == ["requests"]:
            _allow(method, "GET", "DELETE")
            if method == "DELETE":
                self.log.clear()
            return json_response({"requests": self.log.entries(), "counts": self.log.counts()})
        if parts == ["reset"]:
            _allow(method, "POST")
            self.reset()
            return json_response({"reset": True, "deals": len(self.deals), "contacts": len(self.contacts)})
        if parts == ["webhooks"]:
            _allow(method, "GET", "DELETE")
            if method == "DELETE":
                self.webhooks.clear()
            deliveries, pending = self.webhooks.snapshot()
            return json_response({"webhooks": self.webhooks.list(), "deliveries": deliveries, "pending": pending})
        if parts == ["health"]:
            _allow(method, "GET")
            return json_response({"status": "ok", "deals": len(self.deals), "contacts": len(self.contacts),
                                  "products": len(self.products), "quotes": len(self.quotes),
                                  "orders": len(self.orders), "vocabulary": self._vocabulary_counts()})
        raise AdminRequestError(404, f"No admin endpoint at /_admin/{'/'.join(parts)}.")

    def _vocabulary_counts(self) -> dict[str, int]:
        """The records a whole read of each vocabulary list answers (custom fields of the five entities)."""
        return {"fields": sum(len(self.vocabulary.custom_fields(entity)) for entity in vocabulary.ENTITY_IDS),
                "options": len(self.options_tables), "users": len(self.users), "pipelines": len(self.pipelines),
                "stages": len(self.stages), "loss_reasons": len(self.loss_reasons)}

    def _entity_table(self, name: str) -> Table:
        return {"deals": self.deals, "contacts": self.contacts, "users": self.users, "products": self.products,
                "orders": self.orders, "quotes": self.quotes, "fields": self.fields,
                "options_tables": self.options_tables, "pipelines": self.pipelines, "stages": self.stages,
                "loss_reasons": self.loss_reasons}[name]

    def _route_records(self, method: str, parts: list[str], raw: bool, payload: Any) -> Response:
        entity = parts[0]
        if len(parts) == 1:
            _allow(method, "POST")
            if not isinstance(payload, dict):
                raise AdminRequestError(400, "The body must be a JSON object.")
            return json_response(_shown(self.create(entity, payload, raw=raw)), 201)
        if len(parts) != 2:
            raise AdminRequestError(404, f"No admin endpoint at /_admin/{'/'.join(parts)}.")
        key: int | str = int(parts[1]) if parts[1].lstrip("-").isdigit() else parts[1]
        _allow(method, "GET", "PATCH", "DELETE")
        if method == "GET":
            with self._lock:
                record = self._entity_table(entity).get(key)
            if record is None:
                raise AdminRequestError(404, f"No {entity} record with Id {key}.")
            return json_response(_shown(record))
        if method == "DELETE":
            return json_response(_shown(self.delete(entity, key)))
        if not isinstance(payload, dict):
            raise AdminRequestError(400, "The body must be a JSON object.")
        return json_response(_shown(self.update(entity, key, payload, raw=raw)))

    # --- operations (also usable in-process) -------------------------------------------------

    def config_dict(self) -> dict[str, Any]:
        """The whole configuration with the current run-time settings."""
        with self._lock:
            return asdict(self.settings)

    def configure(self, changes: dict[str, Any]) -> None:
        """Change run-time settings (validated first; nothing changes on error)."""
        unknown = set(changes) - set(RUNTIME_SETTINGS)
        if unknown:
            raise AdminRequestError(
                400, f"Unknown settings: {sorted(unknown)}; allowed: {sorted(RUNTIME_SETTINGS)}"
            )
        validate_settings(changes)
        with self._lock:
            self.settings = replace(self.settings, **changes)
            self.limiter.set_limit(self.settings.rate_limit)
        log.info("Simulator settings changed: %s", sorted(changes))

    def reset(self) -> None:
        """Regenerate the initial data; clear faults, log and limiter; restore the settings."""
        self.faults.clear()
        self.log.clear()
        self.limiter.reset()
        self.webhooks.clear()
        with self._lock:
            self.settings = replace(self.initial)
            self.limiter.set_limit(self.initial.rate_limit)
            self._load_data()

    def create(self, entity: str, fields: dict[str, Any], raw: bool = False) -> dict[str, Any]:
        """Store a new record (defaults filled in unless ``raw``) and return it."""
        table = self._entity_table(entity)
        with self._lock:
            if raw:
                record = dict(fields)
            elif entity == "deals":
                record = self._new_deal(fields)
            elif entity == "contacts":
                record = self._new_contact(fields)
            elif entity in ("products", "orders", "quotes"):
                record = self._new_commerce(entity, fields)
            elif entity == "fields":
                record = self._new_field(fields)
            else:
                raise AdminRequestError(400, f"Create {entity} records with ?raw=1 (every field given).")
            try:
                table.insert(record)
            except KeyError:
                raise AdminRequestError(
                    409, f"A {entity} record with Id {record['Id']} already exists."
                ) from None
            if entity in data_entities():
                self.webhooks.record_changes(entity, None, record)
            return record

    def update(
        self, entity: str, key: int | str, fields: dict[str, Any], raw: bool = False
    ) -> dict[str, Any]:
        """Change fields of a record (LastUpdateDate bumped unless given or ``raw``)."""
        table = self._entity_table(entity)
        with self._lock:
            old = table.get(key)
            if old is None:
                raise AdminRequestError(404, f"No {entity} record with Id {key}.")
            if "Id" in fields and fields["Id"] != old.get("Id"):
                raise AdminRequestError(400, "The Id of a record cannot change.")
            if raw:
                record = {**old, **fields}
            else:
                _check_fields(SCHEMAS[entity], fields, extra=_EXTRA_FIELDS.get(entity))
                record = {**old, **self._normalized(entity, fields)}
                if isinstance(fields.get("OtherProperties"), dict):  # custom values given: merged, null clears
                    merged = {**(old.get("OtherProperties") or {}), **fields["OtherProperties"]}
                    record["OtherProperties"] = {k: v for k, v in merged.items() if v is not None}
                if entity == "deals":
                    self._follow_deal_changes(old, record, fields)
                elif entity in ("orders", "quotes"):
                    self._follow_lines(entity, record, fields)
                if "LastUpdateDate" not in fields:
                    record["LastUpdateDate"] = now_string()
            table.replace(key, record)
            if entity in data_entities():
                self.webhooks.record_changes(entity, old, record)
            return record

    def delete(self, entity: str, key: int | str) -> dict[str, Any]:
        """Remove a record and return it (a custom field removed takes its values off every record,
        their LastUpdateDate unchanged)."""
        with self._lock:
            try:
                old = self._entity_table(entity).delete(key)
            except KeyError:
                raise AdminRequestError(404, f"No {entity} record with Id {key}.") from None
            if entity == "fields":
                for name in WITH_CUSTOM_VALUES:
                    table = self._entity_table(name)
                    for record in list(table.records()):
                        if old["Key"] in (record.get("OtherProperties") or {}):
                            values = {k: v for k, v in record["OtherProperties"].items() if k != old["Key"]}
                            table.replace(record["Id"], {**record, "OtherProperties": values})
            if entity in data_entities():
                self.webhooks.record_changes(entity, old, None)
            return old

    def mutate(
        self, updates: int = 0, deletes: int = 0, creates: int = 0, seed: int = 0, orders: int = 0,
        price_changes: int = 0, commerce_deletes: int = 0,
    ) -> dict[str, list[int]]:
        """Random changes to deals, reproducible for a given state and seed; then ``orders`` new orders
        of won deals, ``price_changes`` catalogue prices changed and ``commerce_deletes`` deletions each
        of orders, quotes and products (each delivered by webhook like any change)."""
        for name, value in (("updates", updates), ("deletes", deletes), ("creates", creates), ("orders", orders),
                            ("price_changes", price_changes), ("commerce_deletes", commerce_deletes)):
            if type(value) is not int or value < 0:
                raise AdminRequestError(400, f"{name} must be a non-negative integer, got {value!r}")
        if type(seed) is not int:
            raise AdminRequestError(400, f"seed must be an integer, got {seed!r}")
        rng = random.Random(seed)
        with self._lock:
            ids = self.deals.ids()
            updated = rng.sample(ids, min(updates, len(ids)))
            chosen = set(updated)
            remaining = [deal_id for deal_id in ids if deal_id not in chosen]
            deleted = rng.sample(remaining, min(deletes, len(remaining)))
            now = now_string()
            for deal_id in updated:
                old = self.deals.get(deal_id)
                assert old is not None
                status = rng.choice((data.STATUS_OPEN, data.STATUS_WON, data.STATUS_LOST))
                title = old.get("Title") if isinstance(old.get("Title"), str) else ""
                changes = {
                    "StatusId": status,
                    "Amount": round(rng.lognormvariate(8.0, 1.2), 2),
                    "Title": f"{title} (rev. {rng.randrange(1000)})".lstrip(),
                    "FinishDate": None if status == data.STATUS_OPEN else now,
                    "LossReasonId": rng.choice(data.LOSS_REASON_IDS) if status == data.STATUS_LOST else None,
                    "UpdaterId": rng.choice(data.USER_IDS),
                    "LastUpdateDate": now,
                }
                self.deals.replace(deal_id, {**old, **changes})
                self.webhooks.record_changes("deals", old, {**old, **changes})
            for deal_id in deleted:
                self.webhooks.record_changes("deals", self.deals.delete(deal_id), None)
            created = []
            contact_ids = self.contacts.ids()
            for _ in range(creates):
                fields: dict[str, Any] = {
                    "Id": self.deals.max_id() + rng.randint(1, 60),
                    "Amount": round(rng.lognormvariate(8.0, 1.2), 2),
                    "OwnerId": rng.choice(data.USER_IDS),
                }
                if contact_ids and rng.random() < 0.95:
                    fields["ContactId"] = rng.choice(contact_ids)
                record = self._new_deal(fields)
                self.deals.insert(record)
                self.webhooks.record_changes("deals", None, record)
                created.append(record["Id"])
        log.info(
            "Mutated deals: %d updated, %d deleted, %d created", len(updated), len(deleted), len(created)
        )
        result = {"updated": updated, "deleted": deleted, "created": created}
        if orders or price_changes or commerce_deletes:
            result.update(self._mutate_commerce(rng, orders, price_changes, commerce_deletes))
        return result

    def _mutate_commerce(self, rng: random.Random, orders: int, price_changes: int,
                         deletes: int) -> dict[str, list[int]]:
        with self._lock:
            products = [p for p in self.products.records() if type(p.get("Id")) is int]
            won = [d for d in self.deals.records() if d.get("StatusId") == data.STATUS_WON]
            created = []
            for deal in rng.sample(won, min(orders, len(won))):
                lines = [{"ProductId": product["Id"], "Quantity": rng.randint(1, 9),
                          "UnitPrice": product.get("UnitPrice") or 0, "Discount": rng.choice((0, 5))}
                         for product in rng.sample(products, min(len(products), rng.randint(1, 3)))]
                record = self._new_commerce("orders", {"DealId": deal["Id"], "ContactId": deal.get("ContactId"),
                                                       "Products": lines})
                self.orders.insert(record)
                self.webhooks.record_changes("orders", None, record)
                created.append(record["Id"])
            repriced = []
            for product in rng.sample(products, min(price_changes, len(products))):
                new = {**product, "UnitPrice": commerce.money((product.get("UnitPrice") or 1) * 1.1),
                       "LastUpdateDate": now_string()}
                self.products.replace(product["Id"], new)
                self.webhooks.record_changes("products", product, new)
                repriced.append(product["Id"])
            gone: dict[str, list[int]] = {}
            for entity in ("orders", "quotes", "products"):
                table = self._entity_table(entity)
                gone[f"{entity}_deleted"] = rng.sample(table.ids(), min(deletes, len(table.ids())))
                for record_id in gone[f"{entity}_deleted"]:
                    self.webhooks.record_changes(entity, table.delete(record_id), None)
        log.info("Mutated commerce: %d orders created, %d prices changed, %d deleted of each", len(created),
                 len(repriced), deletes)
        return {"orders_created": created, "prices_changed": repriced, **gone}

    # --- record defaults -----------------------------------------------------------------------

    def _new_id(self, table: Table) -> int:
        base = table.max_id() or (data.FIRST_DEAL_ID if table is self.deals else data.FIRST_CONTACT_ID)
        return base + self._rng.randint(1, 60)

    def _new_deal(self, fields: dict[str, Any]) -> dict[str, Any]:
        _check_fields(DEALS, fields)
        fields = self._normalized("deals", fields)
        now = now_string()
        status = fields.get("StatusId", data.STATUS_OPEN)
        owner = fields.get("OwnerId", data.USER_IDS[0])
        number = fields.get("DealNumber", self._next_deal_number)
        if isinstance(number, int):
            self._next_deal_number = max(self._next_deal_number, number + 1)
        contact = self.contacts.get(fields["ContactId"]) if type(fields.get("ContactId")) is int else None
        create_date = fields.get("CreateDate", now)
        created_ticks = parse_ticks(create_date) if isinstance(create_date, str) else None
        start_date = (
            render(sao_paulo_midnight(created_ticks // 10_000_000)) if created_ticks is not None else None
        )
        defaults: dict[str, Any] = {
            "Id": self._new_id(self.deals),
            "Title": f"Negócio {number}",
            "ContactId": None,
            "ContactName": contact.get("Name") if contact else None,
            "PersonId": None,
            "PipelineId": 10001,
            "StageId": 50001,
            "StatusId": status,
            "OwnerId": owner,
            "CurrencyId": 1,
            "Amount": 0,
            "StartAmount": fields.get("Amount", 0),
            "StartDate": start_date,
            "FinishDate": now if status in (data.STATUS_WON, data.STATUS_LOST) else None,
            "CreateDate": create_date,
            "LastUpdateDate": now,
            "DealNumber": number,
            "WonQuoteId": None,
            "LastQuoteId": None,
            "LastOrderId": None,
            "LossReasonId": None,
            "CreatorId": owner,
            "UpdaterId": owner,
        }
        return {name: fields.get(name, default) for name, default in defaults.items()}

    def _new_contact(self, fields: dict[str, Any]) -> dict[str, Any]:
        _check_fields(CONTACTS, fields, extra={"Tags"})
        fields = self._normalized("contacts", fields)
        now = now_string()
        contact_id = fields.get("Id", self._new_id(self.contacts))
        type_id = fields.get("TypeId", 1)
        defaults: dict[str, Any] = {
            "Id": contact_id,
            "TypeId": type_id,
            "Name": f"Contato {contact_id}",
            "LegalName": None,
            "Register": None,
            "CNPJ": None,
            "CPF": None,
            "StatusId": 1,
            "Email": None,
            "ZipCode": None,
            "CityId": None,
            "StateId": None,
            "CreateDate": now,
            "LastUpdateDate": now,
            "Tags": [],
        }
        return {name: fields.get(name, default) for name, default in defaults.items()}

    def _new_commerce(self, entity: str, fields: dict[str, Any]) -> dict[str, Any]:
        """A product, order or quote with defaults for what ``fields`` leave out (an order's or a
        quote's lines given as ``Products``: each gets an Id and its Total when it has none)."""
        _check_fields(SCHEMAS[entity], fields, extra=_EXTRA_FIELDS.get(entity))
        table = self._entity_table(entity)
        now = now_string()
        first = {"products": commerce.FIRST_PRODUCT_ID, "orders": commerce.FIRST_ORDER_ID,
                 "quotes": commerce.FIRST_QUOTE_ID}[entity]
        record_id = fields.get("Id", (table.max_id() or first) + self._rng.randint(1, 30))
        defaults: dict[str, Any] = {name: None for name in SCHEMAS[entity].properties}
        defaults.update(Id=record_id, CreateDate=now, LastUpdateDate=now, CurrencyId=1)
        if entity == "products":
            defaults.update(Code=f"P{record_id}", Name=f"Produto {record_id}", UnitPrice=0, Suspended=False,
                            Editable=True, Deletable=True)
        else:
            defaults.update(Date=now, Discount=0, Products=[])
            if entity == "quotes":
                defaults.update(ReviewNumber=1, LastReview=True, QuoteNumber=record_id - commerce.FIRST_QUOTE_ID)
            else:
                defaults.update(OrderNumber=record_id - commerce.FIRST_ORDER_ID)
        record = {name: fields.get(name, default) for name, default in defaults.items()}
        if entity != "products":
            self._follow_lines(entity, record, fields)
        return record

    def _follow_lines(self, entity: str, record: dict[str, Any], fields: dict[str, Any]) -> None:
        """Lines given as ``Products`` get their parent's Id, an Id and a Total each (unless given),
        and the document's Amount follows them (unless given)."""
        if "Products" not in fields:
            return
        lines = fields["Products"]
        if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
            raise AdminRequestError(400, "Products must be a list of line objects.")
        parent = "OrderId" if entity == "orders" else "QuoteId"
        taken = {line["Id"] for table in (self.orders, self.quotes) for other in table.records()
                 for line in other.get("Products") or () if isinstance(line, dict) and "Id" in line}
        shaped = []
        for line in lines:
            line = {"SectionId": None, "ProductId": None, "ProductName": None, "Quantity": 1, "CurrencyId": 1,
                    "UnitPrice": 0, "Discount": 0, **line, parent: record["Id"]}
            if "Id" not in line:
                line["Id"] = max(taken | {commerce.FIRST_LINE_ID}) + self._rng.randint(1, 5)
            taken.add(line["Id"])
            if line["ProductName"] is None and type(line["ProductId"]) is int:
                product = self.products.get(line["ProductId"])
                line["ProductName"] = product.get("Name") if product else None
            if "Total" not in line:
                line["Total"] = commerce.line_total(line["Quantity"], line["UnitPrice"], line["Discount"])
            if entity == "orders":
                line.update(OrderDate=record.get("Date"), DealId=record.get("DealId"),
                            ContactId=record.get("ContactId"), Bonus=line.get("Bonus", False))
            shaped.append(line)
        record["Products"] = shaped
        if "Amount" not in fields:
            record["Amount"] = commerce.amount(shaped, record.get("Discount") or 0)

    def _new_field(self, fields: dict[str, Any]) -> dict[str, Any]:
        """A custom field created in Ploomes: its ``EntityId``, ``Name``, ``TypeId``, and
        ``OptionsTableId``/``Multiple`` for an option list; a key with a GUID."""
        entity = {entity_id: name for name, entity_id in vocabulary.ENTITY_IDS.items()}.get(fields.get("EntityId"))
        if entity is None or fields.get("TypeId") not in vocabulary.TYPES:
            raise AdminRequestError(400, f"A field needs an EntityId of {sorted(vocabulary.ENTITY_IDS.values())} and "
                                         f"a TypeId of {sorted(vocabulary.TYPES)}.")
        name = str(fields.get("Name") or "Campo novo")
        field_id = self.fields.max_id() + 1
        return vocabulary.new_field(entity, name, fields["TypeId"], field_id,
                                    fields.get("Key") or vocabulary.field_key(entity, f"{name}#{field_id}", 0),
                                    fields.get("OptionsTableId"), bool(fields.get("Multiple")))

    def _normalized(self, entity: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Tags given as ids become full tag entries."""
        if entity != "contacts" or "Tags" not in fields:
            return dict(fields)
        tags = fields["Tags"]
        if not isinstance(tags, list):
            raise AdminRequestError(400, "Tags must be a list of tag ids or tag objects.")
        entries = []
        for tag in tags:
            if type(tag) is int:
                entries.append(data.tag_entry(tag))
            elif isinstance(tag, dict):
                entries.append(tag)
            else:
                raise AdminRequestError(400, f"Invalid tag {tag!r}: a tag id or a tag object is expected.")
        return {**fields, "Tags": entries}

    def _follow_deal_changes(
        self, old: dict[str, Any], record: dict[str, Any], fields: dict[str, Any]
    ) -> None:
        """Keep ContactName and FinishDate consistent with what changed."""
        if "ContactId" in fields and "ContactName" not in fields:
            contact_id = fields["ContactId"]
            contact = self.contacts.get(contact_id) if type(contact_id) is int else None
            record["ContactName"] = contact.get("Name") if contact else None
        if "StatusId" in fields and "FinishDate" not in fields:
            if fields["StatusId"] == data.STATUS_OPEN:
                record["FinishDate"] = None
            elif old.get("FinishDate") is None or old.get("StatusId") != fields["StatusId"]:
                record["FinishDate"] = now_string()


def _wrong_answer(kind: str, response: Response, params: list[tuple[str, str]],
                  settings: SimulatorConfig) -> Response:
    """A 200 list answer turned into the wrong answer ``kind`` (see ``faults.py``)."""
    if kind == "drip":
        return replace(response, drip=settings.drip_seconds)
    document = json.loads(response.body)
    records = document.get("value") or []
    if kind == "empty":
        document["value"], document["@odata.count"] = [], 0
    elif kind == "partial":
        document["value"] = records[:1] + records[3:]
    elif kind == "negative_count":
        document["@odata.count"] = -5
    elif kind == "endless":
        bound = re.search(r"\bId gt (\d+)", dict(params).get("$filter", ""))
        if bound is not None:  # new records past the bound, ascending: as many as the list's first page
            after = int(bound.group(1))
            document["value"] = [{**record, "Id": after + offset} for offset, record in enumerate(records, start=1)]
    elif kind == "huge":
        document["Padding"] = "x" * settings.huge_answer_bytes
    return Response(200, to_json(document), dict(response.headers))


def hidden(deal_id: Any, percent: int) -> bool:
    """Whether the API hides this deal when ``hidden_deals_percent`` is ``percent`` (fixed per Id)."""
    return type(deal_id) is int and (deal_id * 2654435761) % 2**32 % 100 < percent


def _hide(query: Any, percent: int) -> None:
    """Leave the hidden deals out of ``query``, as an integration user who lost permission sees it."""
    def visible(record: dict[str, Any]) -> bool:
        return not hidden(record.get("Id"), percent)

    for name in ("predicate", "residual"):
        current = getattr(query, name)
        setattr(query, name, visible if current is None else (lambda r, c=current: c(r) and visible(r)))


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise AdminRequestError(405, f"Method {method} not allowed here; use {', '.join(allowed)}.")


def _object(payload: Any, allowed: set[str]) -> dict[str, Any]:
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise AdminRequestError(400, "The body must be a JSON object.")
    unknown = set(payload) - allowed
    if unknown:
        raise AdminRequestError(400, f"Unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
    return payload


_EXTRA_FIELDS = {"contacts": {"Tags", "OtherProperties"}, "orders": {"Products", "OtherProperties"},
                 "quotes": {"Products", "OtherProperties"}, "deals": {"OtherProperties"},
                 "products": {"OtherProperties"}, "options_tables": {"Options"}, "fields": {"Type"}}


def _shown(record: dict[str, Any]) -> dict[str, Any]:
    """A record as the admin answers it: its custom values are the API's to render (``truth(custom=True)``
    shows them compact)."""
    return {key: value for key, value in record.items() if key != "OtherProperties"}


def data_entities() -> tuple[str, ...]:
    """The entities whose changes Ploomes delivers to webhooks."""
    return ("deals", "contacts", "products", "orders", "quotes")
_TYPE_CHECKS = {
    BOOLEAN: lambda v: type(v) is bool,
    INT: lambda v: type(v) is int,
    DECIMAL: lambda v: type(v) in (int, float),
    STRING: lambda v: isinstance(v, str),
    DATETIME: lambda v: isinstance(v, str) and parse_ticks(v) is not None,
}


def _check_fields(schema: EntitySchema, fields: dict[str, Any], extra: set[str] | None = None) -> None:
    """Reject unknown properties and values of the wrong type (null is always allowed)."""
    allowed = set(schema.properties) | (extra or set())
    unknown = set(fields) - allowed
    if unknown:
        raise AdminRequestError(
            400, f"Unknown {schema.name} fields {sorted(unknown)}; use ?raw=1 to store anything."
        )
    for name, value in fields.items():
        kind = schema.properties.get(name)
        if value is None or kind is None:
            continue
        if not _TYPE_CHECKS[kind](value):
            raise AdminRequestError(
                400, f"{schema.name}.{name} must be {kind}, got {value!r}; use ?raw=1 to store anything."
            )
    if "Id" in fields and integer_id(fields) is None:
        raise AdminRequestError(400, "Id must be an integer; use ?raw=1 to store anything.")
