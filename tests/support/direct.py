"""A direct-upload client, as an API client would write one: declare the
file, send each part to its signed URL, complete. Transport-agnostic: the
tests pass Django's test client, the benches and the serverless tier real
HTTP."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

#: ``call(method, path_or_url, json_body) -> (status, json)`` against the API.
Call = Callable[[str, str, Any], tuple[int, Any]]
#: ``put(url, headers, body) -> status`` to a signed URL.
Put = Callable[[str, dict[str, str], bytes], int]


@dataclass
class DirectUpload:
    """What a direct upload went through: the API's answers, in order."""

    begin: Any = None
    complete: Any = None
    complete_status: int = 0
    put_statuses: dict[int, int] = field(default_factory=dict)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parts_of(data: bytes, part_size: int) -> list[tuple[int, bytes]]:
    if len(data) <= part_size:
        return [(1, data)]
    return [
        (n + 1, data[offset : offset + part_size])
        for n, offset in enumerate(range(0, len(data), part_size))
    ]


def direct_upload(
    call: Call,
    put: Put,
    name: str,
    data: bytes,
    *,
    declare_sha256: bool = True,
    order: Callable[[list[tuple[int, bytes]]], Iterable[tuple[int, bytes]]] = list,
    workers: int = 1,
    complete: bool = True,
) -> DirectUpload:
    """Upload ``data`` as ``name`` by the direct path. Raises AssertionError
    when the API refuses the start (the caller reads ``begin`` otherwise)."""
    result = DirectUpload()
    status, begun = call(
        "POST",
        "/api/direct-uploads",
        {
            "name": name,
            "size": len(data),
            "contentType": "text/csv",
            **({"sha256": sha256(data)} if declare_sha256 else {}),
        },
    )
    result.begin = begun
    if status != 201:
        raise AssertionError(f"begin: {status} {begun}")
    parts = parts_of(data, begun["partSize"])
    signed = {p["number"]: p for p in begun["parts"]}
    wanted = [{"number": n, "sha256": sha256(chunk)} for n, chunk in parts]
    for start in range(0, len(wanted), 100):
        batch = [p for p in wanted[start : start + 100] if p["number"] not in signed]
        if batch:
            status, answer = call("POST", begun["partsUrl"], {"parts": batch})
            assert status == 200, answer
            signed.update({p["number"]: p for p in answer["parts"]})

    def send(item: tuple[int, bytes]) -> None:
        number, chunk = item
        part = signed[number]
        result.put_statuses[number] = put(part["url"], part["headers"], chunk)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(send, order(parts)))
    if complete:
        result.complete_status, result.complete = call(
            "POST", begun["completeUrl"], None
        )
    return result
