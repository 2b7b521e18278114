"""Alembic migrations; every schema change is a revision here with a real downgrade."""
