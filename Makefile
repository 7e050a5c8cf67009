.PHONY: run test lint demo

# Everything on a fresh machine: virtualenv, install, migrate, demo data, and
# the web server + Celery worker + Celery beat. Ctrl-C stops them all.
run:
	bin/run

# Install what the tests need and run the whole suite (PostgreSQL and Redis on 127.0.0.1).
test:
	bin/test

lint:
	.venv/bin/ruff check .
	.venv/bin/lint-imports
	.venv/bin/mypy
	.venv/bin/python manage.py makemigrations --check --dry-run
