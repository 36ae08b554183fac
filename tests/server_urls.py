from django.urls import include, path

from analytics_site.urls import urlpatterns as site_urlpatterns

urlpatterns = [path("_test/", include("tests.sessions_blob.urls")), *site_urlpatterns]
