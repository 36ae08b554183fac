"""Storage tiers for the session tests: a test that takes ``tier`` runs on
each of them (memory, local disk, S3 over moto, a real Swift s3api), or on
those it names with ``@pytest.mark.parametrize("tier", [...], indirect=True)``.

Each S3 tier proves something else. ``s3`` (moto's server): the engine speaks
S3's API as boto3 and django-storages do, in the round trips it claims.
``s3cas`` (moto behind ``tests/support/casfront.py``, not in ``TIERS``: the
concurrency tests name it): conditional writes are atomic there as on S3, so a
race test proves the engine's compare-and-swap, and the engine's first-use race
of conditional writes runs (on ``s3`` it is off: its requests would count in
the round trips, and moto's checks are not atomic). ``swift``: real signature
checks, and a store without conditional writes.

A pytest plugin (``tests/conftest.py`` loads it), so the engine's suite and
the site's share it.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import storages

from sessions_blob.stores import ObjectStore, object_store
from sessions_blob.stores.s3_client import shared_client
from tests.support.s3 import S3Endpoint

TIERS = ["memory", "filesystem", "s3", "swift"]
#: The concurrency tests' tiers: every tier, and the atomic S3 front.
RACE_TIERS = [*TIERS, "s3cas"]
COUNTED = ("read", "create", "replace", "exists", "delete", "delete_many", "list")


@dataclass
class Tier:
    name: str
    s3: S3Endpoint | None = None
    bucket: str | None = None
    prefix: str = ""
    calls: Counter[str] = field(default_factory=Counter)

    def objects(self) -> list[str]:
        """Names of the objects under this test's own prefix."""
        return [info.name for info in self.store.list(self.prefix)]

    @property
    def store(self) -> ObjectStore:
        return object_store()

    @property
    def atomic(self) -> bool:
        """Whether a race test may assert that no update is lost here.

        Swift's s3api has no conditional writes (the engine's weaker mode),
        and moto checks ``If-Match`` apart from the write, so under load two
        writers of one version can both win there: a lost update that is
        moto's, not the engine's. ``s3cas`` is the S3 tier races are proven on.
        """
        return self.name not in {"s3", "swift"}

    def http_calls(self) -> Counter[str]:
        """S3 operations sent over HTTP since the tier was set up."""
        return self._http


def _count(
    calls: Counter[str], name: str, method: Callable[..., Any]
) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        return method(*args, **kwargs)

    return counted


@pytest.fixture(params=TIERS)
def tier(request: pytest.FixtureRequest, settings: Any, tmp_path: Path) -> Tier:
    name = request.param
    tier = Tier(name=name)
    # A prefix of its own keeps each test's listing to its own sessions.
    settings.SESSIONS_BLOB_PREFIX = f"sessions-{uuid.uuid4().hex[:12]}/"
    settings.SESSIONS_BLOB_PROBE_CONDITIONAL_WRITES = name != "s3"
    if name == "memory":
        settings.STORAGES = {
            **settings.STORAGES,
            "sessions": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
        }
    elif name in {"s3", "s3cas", "swift"}:
        endpoint: S3Endpoint = request.getfixturevalue(name)
        tier.s3 = endpoint
        tier.bucket = request.getfixturevalue(f"{name}_bucket")
        settings.STORAGES = {
            **settings.STORAGES,
            "sessions": endpoint.storage(tier.bucket),
        }
    tier.prefix = settings.SESSIONS_BLOB_PREFIX
    adapter = object_store()
    for method in COUNTED:
        setattr(adapter, method, _count(tier.calls, method, getattr(adapter, method)))
    tier._http = Counter()  # type: ignore[attr-defined]
    if tier.s3 is not None:
        client = shared_client(storages["sessions"])  # type: ignore[arg-type]

        def on_call(model: Any, **_: Any) -> None:
            tier._http[model.name] += 1  # type: ignore[attr-defined]

        client.meta.events.register("before-call.s3", on_call)
        request.addfinalizer(
            lambda: client.meta.events.unregister("before-call.s3", on_call)
        )
    return tier


@pytest.fixture
def redis_cache(settings: Any) -> str:
    """The machine's Redis as Django's cache, on a database of its own."""
    settings.CACHES = {
        **settings.CACHES,
        "sessions": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/14",
            "KEY_PREFIX": uuid.uuid4().hex[:8],
        },
    }
    settings.SESSION_CACHE_ALIAS = "sessions"
    settings.SESSION_ENGINE = "sessions_blob.backends.cached_storage"
    return "sessions"
