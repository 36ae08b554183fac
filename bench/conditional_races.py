"""Races of conditional PUTs: how often do two writers of one ``If-Match``
version both win? On moto's server directly, on moto behind the atomic front
(``tests/support/casfront.py``), and behind a front that checks the condition
and writes in a second step (``FaultProxy.check_then_write``), in one run.

Each race writes a key, then releases ``--writers`` PUTs of it at once (one
barrier), each with the key's ETag in ``If-Match`` and a body of its own (a
body equal to the old one leaves the ETag unchanged, and a second winner would
then be right). Printed per store: races with more than one winner, and the
wall time.

    .venv/bin/python bench/conditional_races.py [--races 100] [--writers 16]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUCKET = "bench-races"


def race(client: Any, writers: int, pool: ThreadPoolExecutor) -> int:
    from botocore.exceptions import ClientError

    key = f"race/{uuid.uuid4().hex}"
    version = client.put_object(Bucket=BUCKET, Key=key, Body=b"base")["ETag"]
    start = threading.Barrier(writers)

    def write(number: int) -> bool:
        start.wait(timeout=30)
        try:
            client.put_object(
                Bucket=BUCKET, Key=key, Body=b"writer %d" % number, IfMatch=version
            )
        except ClientError:
            return False
        return True

    return sum(pool.map(write, range(writers)))


def main() -> None:
    from tests.support.faultproxy import FaultProxy
    from tests.support.servers import free_port, moto_client, moto_server, serve

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--races", type=int, default=100)
    parser.add_argument("--writers", type=int, default=16)
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="races-"))
    with moto_server(logs) as moto:
        port = free_port()
        front = [sys.executable, "-m", "tests.support.casfront", moto, str(port)]
        with (
            serve(front, logs / "casfront.log", port=port, cwd=ROOT) as atomic,
            FaultProxy(moto) as naive,
        ):
            naive.check_then_write(0.01)
            stores = {
                "moto": moto,
                "moto behind CasFront": atomic,
                "check-then-write front": naive.url,
            }
            print(f"{args.races} races of {args.writers} If-Match writers each")
            for name, url in stores.items():
                client = moto_client(url, pool=args.writers * 2)
                if name == "moto":
                    client.create_bucket(Bucket=BUCKET)
                began = time.monotonic()
                with ThreadPoolExecutor(args.writers) as pool:
                    winners = [
                        race(client, args.writers, pool) for _ in range(args.races)
                    ]
                doubled = sum(count > 1 for count in winners)
                print(
                    f"  {name:24} more than one winner: {doubled:3}/{args.races}"
                    f"  (at most {max(winners)} winners; "
                    f"{time.monotonic() - began:.1f} s)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
