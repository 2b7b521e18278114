"""Pure rules of the owner roll, tally and procedure: no Flask, no SQLAlchemy."""
