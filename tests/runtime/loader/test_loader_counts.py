"""Honest counts: rows inserted, rows updated, records rejected - and the manifest migration
from the old ``rows_loaded``/``rows_rejected`` columns.

https://dev.mysql.com/doc/refman/8.4/en/insert-on-duplicate.html (affected-rows values)
"""

from __future__ import annotations

import uuid

from tapstack.loader.runtime.bootstrap import PasswordAuthentication, bootstrap_database
from tapstack.loader.runtime.schema import MANIFEST_COLUMNS
from tests.runtime.loader.loader_support import jsonl, put, record


def test_a_file_that_repeats_an_id_inserts_one_row(make_loader, s3, database):
    body = jsonl([record(1), record(2), record(1), record(1)])  # the same record three times

    result = make_loader().handle_event(put(s3, "incoming/repeat.jsonl", body))["objects"][0]

    assert (result["rows_inserted"], result["rows_updated"]) == (2, 0)
    assert len(database.events()) == 2


def test_a_repeated_id_with_new_content_is_one_row_inserted_then_updated(make_loader, s3, database):
    body = jsonl([record(1), record(1, type="changed")])

    result = make_loader().handle_event(put(s3, "incoming/change.jsonl", body))["objects"][0]

    assert (result["rows_inserted"], result["rows_updated"]) == (1, 1)
    assert database.events()["evt-000001"][1] == "changed"


def test_reloading_the_same_records_counts_no_row_and_changed_ones_count_as_updated(
    make_loader, s3, database
):
    loader = make_loader(batch_size=4)
    first = loader.handle_event(put(s3, "incoming/a.jsonl", jsonl([record(i) for i in range(10)])))
    same = loader.handle_event(put(s3, "incoming/b.jsonl", jsonl([record(i) for i in range(10)])))
    mixed = [record(i, type="other") if i < 3 else record(i) for i in range(12)]
    changed = loader.handle_event(put(s3, "incoming/c.jsonl", jsonl(mixed)))

    counts = [
        (r["objects"][0]["rows_inserted"], r["objects"][0]["rows_updated"])
        for r in (first, same, changed)
    ]
    assert counts == [(10, 0), (0, 0), (2, 3)]
    manifest = {row["object_key"]: row for row in database.manifest()}
    assert (
        manifest["incoming/c.jsonl"]["rows_inserted"],
        manifest["incoming/c.jsonl"]["rows_updated"],
    ) == (2, 3)


def test_a_single_row_batch_is_counted_as_inserted_then_updated(make_loader, s3, database):
    loader = make_loader(batch_size=1)
    inserted = loader.handle_event(put(s3, "incoming/one.jsonl", jsonl([record(1)])))
    updated = loader.handle_event(put(s3, "incoming/two.jsonl", jsonl([record(1, type="x")])))

    assert (inserted["objects"][0]["rows_inserted"], inserted["objects"][0]["rows_updated"]) == (
        1,
        0,
    )
    assert (updated["objects"][0]["rows_inserted"], updated["objects"][0]["rows_updated"]) == (
        0,
        1,
    )


OLD_MANIFEST = """CREATE TABLE `{db}`.`tapstack_load_manifest` (
  `object_id` CHAR(64) CHARACTER SET ascii NOT NULL,
  `key_id` CHAR(64) CHARACTER SET ascii NOT NULL,
  `bucket` VARCHAR(63) CHARACTER SET ascii NOT NULL,
  `object_key` VARCHAR(1024) NOT NULL,
  `version_id` VARCHAR(1024) CHARACTER SET ascii NULL,
  `etag` VARCHAR(128) CHARACTER SET ascii NOT NULL,
  `sequencer` VARCHAR(64) CHARACTER SET ascii NULL,
  `size_bytes` BIGINT NULL,
  `status` VARCHAR(16) CHARACTER SET ascii NOT NULL,
  `rows_loaded` BIGINT NOT NULL DEFAULT 0,
  `rows_rejected` BIGINT NOT NULL DEFAULT 0,
  `last_record` BIGINT NOT NULL DEFAULT 0,
  `attempts` INT NOT NULL DEFAULT 0,
  `skipped_deliveries` INT NOT NULL DEFAULT 0,
  `report_key` VARCHAR(1100) NULL,
  `error` TEXT NULL,
  `started_at` DATETIME(6) NOT NULL,
  `updated_at` DATETIME(6) NOT NULL,
  `finished_at` DATETIME(6) NULL,
  PRIMARY KEY (`object_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""


def test_bootstrap_migrates_a_manifest_of_an_earlier_loader_and_keeps_its_counts(mariadb):
    name = f"t_{uuid.uuid4().hex[:12]}"
    root = mariadb.connect()
    try:
        with root.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}`")
            cursor.execute(OLD_MANIFEST.format(db=name))
            cursor.execute(
                f"INSERT INTO `{name}`.tapstack_load_manifest (object_id, key_id, bucket, "
                "object_key, etag, status, rows_loaded, rows_rejected, last_record, started_at, "
                "updated_at) VALUES (REPEAT('a', 64), REPEAT('b', 64), 'bkt', 'incoming/x.jsonl', "
                "'e', 'loaded', 12, 3, 15, NOW(), NOW())"
            )
        auth = PasswordAuthentication("pw")
        first = bootstrap_database(root, database=name, loader_user="u_migrate", auth=auth)
        second = bootstrap_database(root, database=name, loader_user="u_migrate", auth=auth)
        with root.cursor() as cursor:
            cursor.execute(
                f"SELECT legacy_rows_written, records_rejected, rows_inserted, rows_updated "
                f"FROM `{name}`.tapstack_load_manifest"
            )
            row = cursor.fetchone()
            cursor.execute(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                "AND TABLE_NAME = 'tapstack_load_manifest'",
                (name,),
            )
            columns = {column for (column,) in cursor.fetchall()}
    finally:
        root.close()
        mariadb.drop_database(name)
        with mariadb.root_cursor() as cursor:
            cursor.execute("DROP USER IF EXISTS 'u_migrate'@'%'")

    assert first["manifest_upgraded"] == [
        "CHANGE COLUMN `rows_loaded` `legacy_rows_written` BIGINT NOT NULL DEFAULT 0 COMMENT "
        "'writes counted before rows_inserted/rows_updated existed (an id repeated in a file "
        "counted each time)'",
        "CHANGE COLUMN `rows_rejected` `records_rejected` BIGINT NOT NULL DEFAULT 0",
        "ADD COLUMN `rows_inserted` BIGINT NOT NULL DEFAULT 0 AFTER `status`",
        "ADD COLUMN `rows_updated` BIGINT NOT NULL DEFAULT 0 AFTER `rows_inserted`",
    ]
    assert second["manifest_upgraded"] == []
    assert row == (12, 3, 0, 0)
    assert set(MANIFEST_COLUMNS) <= columns
    assert {"rows_loaded", "rows_rejected"}.isdisjoint(columns)


def test_a_new_database_needs_no_migration(database, mariadb):
    root = mariadb.connect()
    try:
        result = bootstrap_database(
            root,
            database=database.name,
            loader_user="tapstack_loader",
            auth=PasswordAuthentication("loader-test-password"),
        )
    finally:
        root.close()
    assert result["manifest_upgraded"] == []
