"""A roll import is recorded in the area's log, in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crypto.canonical import parse_canonical
from voting.demo import DEMO_PATH, demo_roll_csv, demo_roll_rows
from voting.services.log import entries
from voting.services.roll import import_roll
from voting.services.tenancy import ensure_property_area


def test_roll_log_import_appends_one_entry(app: Any, db: Session) -> None:
    area = ensure_property_area(db, DEMO_PATH)
    key = app.config["VOTING_ID_HASH_KEY"]
    rows = demo_roll_rows()
    first = import_roll(db, area, "v1.csv", demo_roll_csv(rows), key, expected_base_version=None)
    rows[0]["建筑面积"] = "99.99"
    second = import_roll(db, area, "v2.csv", demo_roll_csv(rows), key, expected_base_version=1)
    logged = [parse_canonical(row.entry) for row in entries(db, area)]
    assert [entry["kind"] for entry in logged] == ["roll.import", "roll.import"]
    assert [entry["data"]["version"] for entry in logged] == [1, 2]
    assert logged[0]["data"]["content_sha256"] == first.content_sha256
    assert logged[1]["data"]["content_sha256"] == second.content_sha256
    assert logged[1]["data"]["changes"]["units_changed"] == 1
    assert logged[1]["data"]["units"] == second.unit_count
    # No names or ID numbers in the log.
    text = b"".join(row.entry for row in entries(db, area)).decode()
    assert rows[5]["业主姓名"] not in text and rows[5]["证件号码"] not in text
