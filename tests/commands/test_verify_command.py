"""`voting verify RECORD [--log-key HEX]`: exit 0 with a summary, 1 naming each failed check,
2 for a missing or unreadable record; it loads nothing but crypto, voting.domain, the standard
library and click."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from exportkit import LOG_KEY, make_record, write_folder

from voting.cli import main
from voting.domain import record as rec

ROOT = Path(__file__).resolve().parents[2]
KEY = LOG_KEY.public_key.hex()
_RECORD: dict[str, bytes] = {}


@pytest.fixture
def files(request: pytest.FixtureRequest) -> dict[str, bytes]:
    if not _RECORD:
        _RECORD.update(make_record(request.getfixturevalue("db")).files)
    return dict(_RECORD)


@pytest.fixture
def folder(files: dict[str, bytes], tmp_path: Path) -> Path:
    return write_folder(files, tmp_path / "record")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_verify_command_passes_a_record_with_a_summary(folder: Path) -> None:
    result = run("verify", str(folder), "--log-key", KEY, "--jobs", "1")
    assert result.exit_code == 0, result.output
    for words in (
        "checkpoint: log vote.example.org/log/NHXY",
        "ballots: 7 signed ballot(s)",
        "roll: 11 units",
        "signatures:",
        "OK: the election record",
    ):
        assert words in result.output


def test_verify_command_uses_every_core_and_the_embedded_key(folder: Path) -> None:
    result = run("verify", str(folder), "--jobs", "2")
    assert result.exit_code == 0, result.output
    assert "2 process(es)" in result.output
    assert "pass --log-key to check it against a key you trust" in result.output


def test_verify_command_reads_a_zip(files: dict[str, bytes], tmp_path: Path) -> None:
    path = tmp_path / "record.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    assert run("verify", str(path), "--log-key", KEY, "--jobs", "1").exit_code == 0
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("extra/notes.txt", b"x")
    result = run("verify", str(path), "--log-key", KEY, "--jobs", "1")
    assert (
        result.exit_code == 1
        and "extra/notes.txt is not a file of an election record" in result.output
    )


def test_verify_command_names_each_failed_check_and_exits_1(folder: Path) -> None:
    ballots = json.loads((folder / rec.BALLOTS).read_bytes())
    ballots["ballots"][0]["signature"] = ballots["ballots"][1]["signature"]
    (folder / rec.BALLOTS).write_bytes(
        json.dumps(ballots, separators=(",", ":"), sort_keys=True).encode()
    )
    result = run("verify", str(folder), "--log-key", KEY, "--jobs", "1")
    assert result.exit_code == 1
    assert "FAILED [files] ballots.json has been changed" in result.output
    assert "FAILED [ballots] ballot at log index" in result.output
    assert "signature does not verify" in result.output
    assert "problem(s) in files, ballots" in result.output


def test_verify_command_wrong_log_key_fails_the_checkpoint(folder: Path) -> None:
    result = run("verify", str(folder), "--log-key", "2" * 64, "--jobs", "1")
    assert result.exit_code in (1, 2)
    other = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
    result = run("verify", str(folder), "--log-key", other, "--jobs", "1")
    assert result.exit_code == 1 and "FAILED [checkpoint]" in result.output


@pytest.mark.parametrize("key", ["xyz", "ab" * 31, "ab" * 33])
def test_verify_command_malformed_log_key_exits_2(folder: Path, key: str) -> None:
    result = run("verify", str(folder), "--log-key", key)
    assert result.exit_code == 2 and "--log-key must be" in result.output


def test_verify_command_missing_or_unreadable_record_exits_2(tmp_path: Path) -> None:
    result = run("verify", str(tmp_path / "nothing"))
    assert result.exit_code == 2 and "no such folder or zip file" in result.output
    text = tmp_path / "notes.txt"
    text.write_text("not a record")
    result = run("verify", str(text))
    assert result.exit_code == 2 and "not a folder nor a zip file" in result.output
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    assert run("verify", str(broken)).exit_code == 2
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        (locked / rec.BALLOTS).write_bytes(b"{}")
        (locked / rec.BALLOTS).chmod(0)
        assert run("verify", str(locked)).exit_code == 2


_PROBE = """
import json, sys
at_startup = set(sys.modules)  # what site and .pth files load for every program
from voting.cli import main
try:
    main(["verify", sys.argv[1], "--log-key", sys.argv[2]])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "modules": sorted(set(sys.modules) - at_startup)}))
"""


def test_verify_command_imports_only_crypto_domain_stdlib_and_click(folder: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(folder), KEY],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    probe = json.loads(result.stdout.splitlines()[-1])
    assert probe["code"] in (0, None), result.stdout + result.stderr
    modules: list[str] = probe["modules"]
    ours = [m for m in modules if m == "voting" or m.startswith("voting.")]
    allowed = {"voting", "voting.cli", "voting.commands", "voting.commands.verify"}
    assert [m for m in ours if m not in allowed and not m.startswith("voting.domain")] == []
    stdlib = set(sys.stdlib_module_names)
    third_party = (
        {m.split(".")[0] for m in modules} - stdlib - {"voting", "crypto", "_cffi_backend"}
    )
    # PyNaCl (crypto's libsodium binding: nacl, its _sodium extension, cffi) and click.
    assert third_party <= {"click", "nacl", "_sodium", "cffi", "__mp_main__"}, third_party
    for heavy in ("flask", "sqlalchemy", "jinja2", "werkzeug", "alembic", "psycopg"):
        assert heavy not in {m.split(".")[0] for m in modules}
