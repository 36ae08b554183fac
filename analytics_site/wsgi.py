import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_site.settings")
django_application = get_wsgi_application()

from analytics_site.chunked import ChunkedBodies  # noqa: E402  (needs the settings)

application = ChunkedBodies(django_application)
