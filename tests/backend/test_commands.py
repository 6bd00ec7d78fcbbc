"""`resto db build|dump`, `resto tools run`, `resto data download` through the real CLI entry point."""

from __future__ import annotations

import io
import json
import sqlite3

from cli.main import main


def test_db_build_prints_counts_and_if_missing_skips(tiny_sgd, tmp_path, capsys):
    db = tmp_path / "cli.db"
    assert main(["--data-dir", str(tiny_sgd.parent), "db", "build", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "restaurants: 4" in out and "built in" in out
    assert main(["--data-dir", str(tiny_sgd.parent), "db", "build", "--db", str(db), "--if-missing"]) == 0
    assert "already built" in capsys.readouterr().out


def test_db_build_without_data_dir(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RESTO_DATA_DIR", raising=False)
    assert main(["db", "build", "--db", str(tmp_path / "x.db"), "--if-missing"]) == 0
    assert "RESTO_DATA_DIR is not set" in capsys.readouterr().err
    assert main(["db", "build", "--db", str(tmp_path / "x.db")]) == 2
    err = capsys.readouterr().err
    assert "RESTO_DATA_DIR" in err and "Traceback" not in err


def test_db_dump_is_a_loadable_sql_dump(tiny_db, tmp_path, capsys):
    out = tmp_path / "dump.sql"
    assert main(["db", "dump", "--db", str(tiny_db), "--out", str(out)]) == 0
    copy = sqlite3.connect(tmp_path / "copy.db")
    copy.executescript(out.read_text())
    assert copy.execute("SELECT count(*) FROM restaurants").fetchone() == (4,)
    copy.close()


def test_db_dump_of_a_missing_database(tmp_path, capsys):
    assert main(["db", "dump", "--db", str(tmp_path / "none.db")]) == 2
    assert "resto db build" in capsys.readouterr().err


def test_tools_run_jsonl(tiny_db, capsys, monkeypatch):
    lines = [
        {"name": "FindRestaurants", "arguments": {"cuisine": "Italian", "city": "San Jose"}},
        "this is not json",
        {"name": "ReserveRestaurant", "arguments": {"restaurant_name": "Alpha Trattoria", "city": "San Jose",
                                                    "time": "7 pm"}},
        {"arguments": {}},
        {"name": "ReserveRestaurant", "arguments": {"restaurant_name": "Alpha Trattoria", "city": "San Jose",
                                                    "time": "7 pm", "party_size": "40"}},
    ]
    stdin = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(["tools", "run", "--db", str(tiny_db), "--limit", "1"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(out) == 5
    assert [r["restaurant_name"] for r in out[0]] == ["Alpha Trattoria"]  # --limit 1
    assert "Line 2 is not a tool call" in out[1][0]["error"]
    assert out[2][0]["time"] == "19:00" and out[2][0]["date"] == "2019-03-01"
    assert "error" in out[3][0] and "error" in out[4][0]
    conn = sqlite3.connect(tiny_db)
    assert conn.execute("SELECT count(*) FROM reservations").fetchone() == (1,)
    conn.close()


def test_tools_run_dry_run_writes_nothing(tiny_db, capsys, monkeypatch):
    call = {"name": "ReserveRestaurant", "arguments": {"restaurant_name": "Beta Cafe", "city": "San Jose",
                                                       "time": "12:00"}}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(call) + "\n"))
    assert main(["tools", "run", "--db", str(tiny_db), "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["time"] == "12:00"
    conn = sqlite3.connect(tiny_db)
    assert conn.execute("SELECT count(*) FROM reservations").fetchone() == (0,)
    conn.close()


def test_a_file_that_is_not_a_database(tmp_path, capsys, monkeypatch):
    bogus = tmp_path / "bogus.db"
    bogus.write_bytes(b"this is not sqlite" * 100)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["tools", "run", "--db", str(bogus)]) == 2
    err = capsys.readouterr().err
    assert "not a database resto can read" in err and "Traceback" not in err
