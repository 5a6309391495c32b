"""Command line: ``python -m ploomes_simulator [options]`` serves until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os

from .config import (
    API_KEY_ENV,
    DEFAULT_CLI_PORT,
    DEFAULT_CONTACTS,
    DEFAULT_DEALS,
    DEFAULT_HOST,
    DEFAULT_RATE_LIMIT,
    DEFAULT_SEED,
    DEFAULT_SLOW_SECONDS,
    DEMO_API_KEY,
    ERROR_SHAPES,
    SimulatorConfig,
)
from .server import serve


def build_parser() -> argparse.ArgumentParser:
    """The CLI's options; defaults match :class:`SimulatorConfig`."""
    parser = argparse.ArgumentParser(
        prog="python -m ploomes_simulator",
        description="Serve a simulated Ploomes API (and its /_admin endpoints) over HTTP.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (loopback by default)")
    parser.add_argument("--port", type=int, default=DEFAULT_CLI_PORT, help="port to bind; 0 picks a free one")
    parser.add_argument("--deals", type=int, default=DEFAULT_DEALS, help="deals to generate")
    parser.add_argument("--contacts", type=int, default=DEFAULT_CONTACTS, help="contacts to generate")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the generated data")
    parser.add_argument(
        "--api-key",
        default=None,
        help=f"the User-Key the API accepts; default: ${API_KEY_ENV}, else the demo key {DEMO_API_KEY!r}",
    )
    parser.add_argument(
        "--rate-limit", type=int, default=DEFAULT_RATE_LIMIT, help="requests per rolling minute; 0 = no limit"
    )
    parser.add_argument(
        "--no-retry-after", dest="retry_after", action="store_false", help="send 429s without Retry-After"
    )
    parser.add_argument(
        "--no-count", dest="count_supported", action="store_false", help="silently ignore $count=true"
    )
    parser.add_argument(
        "--auth-status", type=int, choices=(401, 403), default=403, help="status for a bad key"
    )
    parser.add_argument(
        "--slow-seconds", type=float, default=DEFAULT_SLOW_SECONDS, help="delay of the 'slow' fault"
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds every API answer waits")
    parser.add_argument("--latency-jitter", type=float, default=0.0,
                        help="up to this many seconds more, at random, per answer")
    parser.add_argument("--latency-tail-percent", type=float, default=0.0,
                        help="share of answers, at random, that take --latency-tail-seconds instead")
    parser.add_argument("--latency-tail-seconds", type=float, default=0.0, help="see --latency-tail-percent")
    parser.add_argument("--dated-ahead-percent", type=float, default=0.0,
                        help="share of records generated with a LastUpdateDate days after the API's clock")
    parser.add_argument("--error-shape", choices=ERROR_SHAPES, default="odata",
                        help="how error bodies are written (as seen in the wild)")
    parser.add_argument("--log-level", default="INFO", help="logging level")
    parser.add_argument("--access-log", action="store_true", help="log one line per request (at INFO)")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parse the options and serve."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.access_log:
        logging.getLogger("ploomes_simulator.access").setLevel(logging.INFO)
    api_key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_ENV) or DEMO_API_KEY
    config = SimulatorConfig(
        deals=args.deals,
        contacts=args.contacts,
        seed=args.seed,
        api_key=api_key,
        rate_limit=args.rate_limit,
        retry_after=args.retry_after,
        count_supported=args.count_supported,
        auth_status=args.auth_status,
        slow_seconds=args.slow_seconds,
        latency_seconds=args.latency,
        latency_jitter_seconds=args.latency_jitter,
        latency_tail_percent=args.latency_tail_percent,
        latency_tail_seconds=args.latency_tail_seconds,
        dated_ahead_percent=args.dated_ahead_percent,
        error_shape=args.error_shape,
        host=args.host,
        port=args.port,
    )
    serve(config)


if __name__ == "__main__":
    main()
