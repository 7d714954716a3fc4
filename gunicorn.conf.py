"""gunicorn's settings, read from the working directory whatever the command line says (README: Running in
production). Request lines up to gunicorn's maximum reach Django, whose API_MAX_URL_BYTES answers a long URL
with 414 in the JSON envelope; gunicorn's own limit (4094 by default) would answer with an HTML page."""

limit_request_line = 8190
