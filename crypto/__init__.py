"""Pure cryptographic primitives: no Flask, no SQLAlchemy."""
