"""The site as an AWS Lambda function behind API Gateway (HTTP API, payload
2.0; REST API payload 1.0 and ALB events work too).

Handler: ``analytics_site.lambda_handler.handler``. apig-wsgi turns each
event into a WSGI request for the site's own WSGI application: the site is
synchronous Django (blocking storage and database calls), so WSGI runs it as
gunicorn does, with no event loop and no thread hop per request that ASGI
(Mangum) would add (docs/serverless.md says more).

Everything comes from environment variables (README, Configuration). A
function's only writable place is ``/tmp``: ``VAR_DIR`` (SQLite, local-disk
storages, static root) defaults there. Every instance must sign with the same
key, so ``DJANGO_SECRET_KEY`` is required here: the generated one that
``make run`` keeps under ``var/`` would differ per instance, and the code
directory is read-only anyway.

Django is set up when the module is imported (Lambda's init phase); nothing
heavy (DuckDB, boto3 clients) is imported or created before a request needs
it (bench/cold_start.py measures it).
"""

from __future__ import annotations

import os
import tempfile

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_site.settings")
os.environ.setdefault("VAR_DIR", os.path.join(tempfile.gettempdir(), "analytics-site"))
if not os.environ.get("DJANGO_SECRET_KEY"):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set: every instance of the function signs "
        "sessions and cookies with it."
    )

from apig_wsgi import make_lambda_handler

from analytics_site.wsgi import django_application

# The event carries the whole body with its length: no chunked bodies to
# decode, so the WSGI application without wsgi.py's ChunkedBodies.
handler = make_lambda_handler(django_application)
