"""A provider fake for the hand-over benchmark, in its own process (its CPU never competes with the worker's).

    python benchmarks/handover_fake.py --provider mobizon --latency 0.05     # prints "READY http://127.0.0.1:PORT"

The fakes are the ones the adapter tests use (``providers/fakes/``), with three changes for long runs: the request
log is not kept (a million requests would be a gigabyte), Mobizon's balance never runs out, and ``GET /__stats``
answers how many messages the fake accepted and for how many distinct numbers (a duplicate shows as a
difference between the two).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from providers.fakes.base import FakeRequest, Response
from providers.fakes.jojka import JojkaFake
from providers.fakes.mobizon import MobizonFake

MOBIZON_KEY = "b" * 40
JOJKA_KEY = "bench-jojka-key-0123456789"


class _Lean:
    def dispatch(self, req: FakeRequest) -> Response:
        if req.path == "/__stats":
            return 200, {}, self.stats()
        response = super().dispatch(req)
        with self.lock:
            self.requests.clear()
            self.calls_served = getattr(self, "calls_served", 0) + 1
        return response


class BenchMobizon(_Lean, MobizonFake):
    def __init__(self, **kwargs):
        super().__init__(api_key=MOBIZON_KEY, balance=Decimal("1000000000"), **kwargs)

    def stats(self) -> dict:
        with self.lock:
            numbers = Counter(m["to"] for m in self.messages.values())
            return {
                "messages": len(self.messages),
                "distinct": len(numbers),
                "calls": self.calls_served,
                "duplicates": sum(n - 1 for n in numbers.values() if n > 1),
            }


class BenchJojka(_Lean, JojkaFake):
    def __init__(self, **kwargs):
        super().__init__(api_key=JOJKA_KEY, **kwargs)

    def stats(self) -> dict:
        with self.lock:
            numbers = Counter()
            for c in self.campaigns.values():
                numbers.update(c["numbers"])
            numbers.update(m["msisdn"] for m in self.messages.values() if not m.get("campaign_id"))
            return {
                "messages": sum(numbers.values()),
                "distinct": len(numbers),
                "calls": self.calls_served,
                "duplicates": sum(n - 1 for n in numbers.values() if n > 1),
            }


FAKES = {"mobizon": BenchMobizon, "jojka": BenchJojka}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--provider", choices=sorted(FAKES), required=True)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    from http.server import ThreadingHTTPServer

    ThreadingHTTPServer.request_queue_size = 1024  # a listen backlog for 100+ connections opened at once
    fake = FAKES[args.provider](latency=args.latency, port=args.port)
    print("READY", fake.base_url, json.dumps({"provider": args.provider}), flush=True)
    fake.serve_forever()


if __name__ == "__main__":
    main()
