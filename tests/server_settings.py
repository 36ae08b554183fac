"""The project's settings plus the session test views, for server processes."""

from analytics_site.settings import *  # noqa: F403

ROOT_URLCONF = "tests.server_urls"
