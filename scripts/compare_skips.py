"""Fail if a test that ran on SQLite was skipped (or missing) on PostgreSQL.

Usage: python scripts/compare_skips.py sqlite.xml postgresql.xml  (pytest JUnit XML files)
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def outcomes(path: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        if case.find("skipped") is not None:
            result[name] = "skipped"
        else:
            result[name] = "ran"
    return result


def main(sqlite_xml: str, pg_xml: str) -> int:
    sqlite, pg = outcomes(sqlite_xml), outcomes(pg_xml)
    ran_on_sqlite = {name for name, state in sqlite.items() if state == "ran"}
    not_run_on_pg = sorted(name for name in ran_on_sqlite if pg.get(name) != "ran")
    for name in not_run_on_pg:
        print(f"ran on SQLite but not on PostgreSQL: {name}", file=sys.stderr)
    print(f"compared {len(ran_on_sqlite)} tests: {len(not_run_on_pg)} not run on PostgreSQL")
    return 1 if not_run_on_pg else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
