"""Helpers of the simulator tests: a small simulator on a free port and an HTTP client for it."""

from __future__ import annotations

from typing import Any

import requests

from ploomes_simulator import RunningSimulator, SimulatorConfig, run_in_thread

SMALL = {"deals": 700, "contacts": 50, "seed": 1, "rate_limit": 0}


class Api:
    """Requests to the simulated API with the right key (unless told otherwise)."""

    def __init__(self, sim: RunningSimulator, key: str) -> None:
        self.url = sim.url
        self.key = key
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only, never through a proxy

    def get(
        self, path: str, params: dict[str, Any] | None = None, key: str | None = "default"
    ) -> requests.Response:
        """GET ``path``; ``key=None`` sends no User-Key header."""
        headers = {}
        if key is not None:
            headers["User-Key"] = self.key if key == "default" else key
        return self.session.get(self.url + path, params=params, headers=headers, timeout=30)

    def values(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """The ``value`` list of a successful list request."""
        response = self.get(path, params)
        assert response.status_code == 200, response.text
        return response.json()["value"]

    def keyset(
        self, path: str = "/Deals", user_filter: str | None = None, **params: Any
    ) -> list[dict[str, Any]]:
        """Every record matching ``user_filter``, read page by page the way the hook does."""
        records: list[dict[str, Any]] = []
        last = 0
        while True:
            bound = f"Id gt {last}"
            page = self.values(
                path,
                **{
                    "$filter": f"({user_filter}) and {bound}" if user_filter else bound,
                    "$orderby": "Id",
                    "$top": 300,
                },
                **params,
            )
            records += page
            if not page:
                return records
            last = page[-1]["Id"]

    def close(self) -> None:
        self.session.close()


def start(api_key: str, **overrides: Any) -> RunningSimulator:
    """A simulator with the small data set, on a free port."""
    return run_in_thread(SimulatorConfig(**{**SMALL, "api_key": api_key, **overrides}))
