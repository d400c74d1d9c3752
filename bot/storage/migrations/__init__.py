"""Alembic migrations for PolicyBot's database (run them with ``policybot db upgrade``)."""
