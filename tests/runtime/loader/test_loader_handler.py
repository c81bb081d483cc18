"""The Lambda entry point, its configuration, TLS and IAM-token connections."""

from __future__ import annotations

import json
import ssl
import uuid
from types import SimpleNamespace

import boto3
import pymysql
import pytest
from moto import mock_aws

from tapstack.loader.runtime import handler as lambda_handler
from tapstack.loader.runtime.config import Settings, SettingsError
from tapstack.loader.runtime.connections import (
    RDS_CA_BUNDLE,
    connection_factory,
    iam_token_provider,
    tls_context,
)
from tapstack.loader.runtime.database import NotBootstrappedError, ReadOnlyWriterError
from tests.runtime.loader.loader_support import (
    LOADER_PASSWORD,
    LOADER_USER,
    REGION,
    jsonl,
    put,
    record,
)


class RecordingRds:
    """Stands in for the RDS client: MariaDB cannot check IAM tokens, so the 'token' is the
    password of a local user and every request for one is recorded."""

    def __init__(self, token):
        self.token = token
        self.requests = []

    def generate_db_auth_token(self, **request):
        self.requests.append(request)
        return self.token


def context(remaining_ms=60_000):
    """What the handler reads of a Lambda context object."""
    return SimpleNamespace(
        aws_request_id=str(uuid.uuid4()),
        function_name="tapstack-loader-test",
        memory_limit_in_mb=1024,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:tapstack-loader-test",
        get_remaining_time_in_millis=lambda: remaining_ms,
    )


REQUIRED = {"DB_HOST": "h", "DB_NAME": "d", "DB_USER": "u", "AWS_REGION": REGION, "ROLE": "writer"}


@pytest.fixture
def tls_user(mariadb):
    user, password = f"tls_{uuid.uuid4().hex[:8]}", "token-for-tests"
    with mariadb.root_cursor() as cursor:
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s REQUIRE SSL", (user, password))
    yield user, password
    with mariadb.root_cursor() as cursor:
        cursor.execute("DROP USER %s@'%%'", (user,))


def test_the_shipped_ca_bundle_holds_the_amazon_rds_root_certificates():
    context_ = ssl.create_default_context(cafile=str(RDS_CA_BUNDLE))
    subjects = {
        dict(item[0] for item in cert["subject"])["commonName"] for cert in context_.get_ca_certs()
    }

    assert len(subjects) >= 100
    for region in ("us-east-1", "eu-west-1", "eu-central-1"):
        for kind in ("RSA2048", "RSA4096", "ECC384"):
            assert f"Amazon RDS {region} Root CA {kind} G1" in subjects


def test_connections_verify_the_server_certificate_and_ask_for_a_token_each_time(mariadb, tls_user):
    user, token = tls_user
    rds = RecordingRds(token)
    connect = connection_factory(
        host="127.0.0.1",
        port=mariadb.port,
        user=user,
        password=iam_token_provider(
            rds, host="127.0.0.1", port=mariadb.port, user=user, region=REGION
        ),
        database=None,
        ssl_context=tls_context(mariadb.tls_ca_path),
    )

    for _ in range(2):
        conn = connect()
        with conn.cursor() as cursor:
            cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
            (_, version) = cursor.fetchone()
        conn.close()
        assert version.startswith("TLSv1.")

    assert (
        rds.requests
        == [{"DBHostname": "127.0.0.1", "Port": mariadb.port, "DBUsername": user, "Region": REGION}]
        * 2
    )


def test_the_rds_bundle_refuses_a_server_certificate_it_did_not_issue(mariadb, tls_user):
    user, token = tls_user
    connect = connection_factory(
        host="127.0.0.1",
        port=mariadb.port,
        user=user,
        password=lambda: token,
        database=None,
        ssl_context=tls_context(),
    )

    with pytest.raises(pymysql.err.OperationalError, match="CERTIFICATE_VERIFY_FAILED"):
        connect()


def test_tls_contexts_check_the_host_name_and_need_tls_1_2():
    context_ = tls_context()

    assert context_.check_hostname is True
    assert context_.verify_mode == ssl.CERT_REQUIRED
    assert context_.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_tls_contexts_verify_strictly_on_every_python_as_lambda_does():
    """Python 3.13+ sets VERIFY_X509_STRICT by default; tls_context sets it everywhere, so the
    TLS tests above pass only with a chain that Lambda's Python accepts too."""
    assert tls_context().verify_flags & ssl.VERIFY_X509_STRICT
    assert tls_context(RDS_CA_BUNDLE).verify_flags & ssl.VERIFY_X509_STRICT


def test_every_certificate_of_the_shipped_bundle_is_a_ca_that_strict_verification_accepts():
    """What VERIFY_X509_STRICT asks of a CA: critical basic constraints with CA:TRUE, a key
    usage that allows signing certificates, a subject key identifier, and an authority key
    identifier unless it signed itself."""
    from cryptography import x509  # moto's dependency; the loader itself never needs it

    certificates = x509.load_pem_x509_certificates(RDS_CA_BUNDLE.read_bytes())
    problems = []
    for certificate in certificates:
        extensions = {e.oid: e for e in certificate.extensions}
        basic = extensions.get(x509.oid.ExtensionOID.BASIC_CONSTRAINTS)
        usage = extensions.get(x509.oid.ExtensionOID.KEY_USAGE)
        if not (basic and basic.critical and basic.value.ca):
            problems.append((certificate.subject.rfc4514_string(), "basic constraints"))
        if not (usage and usage.value.key_cert_sign):
            problems.append((certificate.subject.rfc4514_string(), "key usage"))
        if x509.oid.ExtensionOID.SUBJECT_KEY_IDENTIFIER not in extensions:
            problems.append((certificate.subject.rfc4514_string(), "subject key identifier"))
        if (
            certificate.issuer != certificate.subject
            and x509.oid.ExtensionOID.AUTHORITY_KEY_IDENTIFIER not in extensions
        ):
            problems.append((certificate.subject.rfc4514_string(), "authority key identifier"))

    assert len(certificates) >= 100
    assert problems == []


def test_iam_tokens_are_signed_locally_for_the_endpoint_and_the_user():
    rds = boto3.client("rds", region_name=REGION)
    token = iam_token_provider(
        rds,
        host="db.example.eu-west-1.rds.amazonaws.com",
        port=3306,
        user=LOADER_USER,
        region=REGION,
    )()

    assert token.startswith("db.example.eu-west-1.rds.amazonaws.com:3306/?Action=connect")
    assert f"DBUser={LOADER_USER}" in token
    assert "X-Amz-Signature=" in token


def test_settings_come_from_the_environment_and_report_what_is_missing():
    with pytest.raises(
        SettingsError, match="^missing environment variable.s.: DB_HOST, DB_NAME, DB_USER, ROLE, "
    ):
        Settings.from_env({})

    settings = Settings.from_env(
        {
            "DB_HOST": "db.example",
            "DB_NAME": "tapstack",
            "DB_USER": "loader",
            "AWS_REGION": REGION,
            "ROLE": "standby",
            "DB_PORT": "3307",
            "BATCH_SIZE": "2500",
            "DB_MASTER_SECRET_ID": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:m",
            "DB_READ_USER": "tapstack_reader",
            "LOG_LEVEL": " debug ",
            "MAX_DECOMPRESSED_BYTES": "1048576",
        }
    )
    assert settings.db_read_user == "tapstack_reader"
    assert Settings.from_env(REQUIRED).db_read_user is None  # no reader unless named
    assert (settings.db_port, settings.batch_size, settings.lock_timeout) == (3307, 2500, None)
    assert settings.max_decompressed_bytes == 1 << 20
    assert Settings.from_env(REQUIRED).max_decompressed_bytes == 4 << 30
    assert (settings.role, settings.log_level, settings.read_timeout) == ("standby", "DEBUG", 300)
    assert settings.master_secret_id.endswith(":secret:m")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BATCH_SIZE", "0", "BATCH_SIZE must be an integer of at least 1, got '0'"),
        ("DB_PORT", "33o6", "DB_PORT must be an integer of at least 1, got '33o6'"),
        ("DB_READ_TIMEOUT", "nan", "DB_READ_TIMEOUT must be a number of at least 1, got 'nan'"),
        ("LOCK_TIMEOUT_SECONDS", "-1", "LOCK_TIMEOUT_SECONDS must be a number of at least 0"),
        ("ROLE", "primary", "ROLE must be one of writer, standby, got 'primary'"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, got 'loud'"),
        (
            "MAX_DECOMPRESSED_BYTES",
            "1",
            "MAX_DECOMPRESSED_BYTES must be an integer of at least 1024",
        ),
    ],
)
def test_a_bad_setting_is_named_with_its_value_and_what_is_allowed(variable, value, message):
    with pytest.raises(SettingsError, match=f"^{message}"):
        Settings.from_env({**REQUIRED, variable: value})


def test_every_problem_of_the_environment_is_reported_at_once():
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"DB_HOST": "h", "BATCH_SIZE": "many", "ROLE": "primary"})

    assert str(error.value) == (
        "missing environment variable(s): DB_NAME, DB_USER, AWS_REGION; "
        "ROLE must be one of writer, standby, got 'primary'; "
        "BATCH_SIZE must be an integer of at least 1, got 'many'"
    )


@pytest.fixture
def lambda_environment(monkeypatch, mariadb, database):
    monkeypatch.setenv("DB_HOST", "127.0.0.1")
    monkeypatch.setenv("DB_PORT", str(mariadb.port))
    monkeypatch.setenv("DB_NAME", database.name)
    monkeypatch.setenv("DB_USER", LOADER_USER)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("ROLE", "writer")
    monkeypatch.setenv("BATCH_SIZE", "7")
    local_ca = tls_context(mariadb.tls_ca_path)
    monkeypatch.setattr(lambda_handler, "tls_context", lambda: local_ca)
    tokens = RecordingRds(LOADER_PASSWORD)
    monkeypatch.setattr(
        lambda_handler,
        "iam_token_provider",
        lambda rds, **where: iam_token_provider(tokens, **where),
    )
    lambda_handler._cache.clear()
    yield tokens
    loader = lambda_handler._cache.get("loader")
    if loader is not None:
        loader.close()
    lambda_handler._cache.clear()


def test_the_handler_loads_s3_events_and_reuses_its_loader_across_invocations(
    lambda_environment, s3, database, capsys
):
    records = [record(i) for i in range(20)]
    event = put(s3, "incoming/handler.jsonl", jsonl(records))

    first = lambda_handler.handler(event, context())
    loader = lambda_handler._cache["loader"]
    second = lambda_handler.handler(event, context())

    assert first["objects"][0]["status"] == "loaded"
    assert second["objects"][0]["status"] == "skipped"
    assert lambda_handler._cache["loader"] is loader
    assert len(database.events()) == 20
    assert len(lambda_environment.requests) == 1  # one connection, kept open
    assert lambda_environment.requests[0]["DBUsername"] == LOADER_USER
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    logs = [line for line in lines if "_aws" not in line]
    assert [line["message"] for line in logs] == ["object loaded", "object skipped"]
    assert len({line["function_request_id"] for line in logs}) == 2  # one per invocation
    assert all(line["function_name"] == "tapstack-loader-test" for line in logs)
    assert all(
        line["correlation_id"] == event["Records"][0]["responseElements"]["x-amz-request-id"]
        for line in logs
    )
    metrics = [line for line in lines if "_aws" in line]
    assert [(m["Role"], m["status"], m["RowsInserted"]) for m in metrics] == [
        ("writer", "loaded", [20]),
        ("writer", "skipped", [0]),
    ]


def test_the_handler_fails_on_a_read_only_writer_and_skips_on_a_read_only_standby(
    lambda_environment, monkeypatch, s3, database, read_only_server, capsys
):
    """ROLE decides: the writer's invocation raises (Lambda retries it, then dead-letters it);
    the standby's succeeds with the object skipped."""
    event = put(s3, "incoming/role.jsonl", jsonl([record(1)]))

    with pytest.raises(ReadOnlyWriterError, match=r"this region is the writer \(ROLE=writer\)"):
        lambda_handler.handler(event, context())
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(m["Role"], m["ReadOnlyWriter"]) for m in metrics if "_aws" in m] == [("writer", [1])]

    lambda_handler._cache.clear()  # a new execution environment, deployed as the standby
    monkeypatch.setenv("ROLE", "standby")
    [skipped] = lambda_handler.handler(event, context())["objects"]

    assert skipped["status"] == "skipped"
    assert skipped["reason"].endswith("arrive through replication from the writer")
    assert database.events() == {}


def test_the_handler_says_how_to_bootstrap_when_the_database_refuses_its_user(
    lambda_environment, monkeypatch, s3
):
    monkeypatch.setenv("DB_USER", "iam_loader_not_created_yet")

    with pytest.raises(NotBootstrappedError, match="run `python -m tapstack bootstrap-database`"):
        lambda_handler.handler(put(s3, "incoming/x.jsonl", jsonl([record(1)])), context())


def test_the_handler_waits_for_a_busy_object_at_most_half_its_remaining_time(lambda_environment):
    settings = Settings.from_env()

    assert lambda_handler._lock_timeout(context(remaining_ms=120_000), settings) == 60
    assert lambda_handler._lock_timeout(context(remaining_ms=500), settings) == 1


def test_the_handler_refuses_unknown_actions(lambda_environment):
    with pytest.raises(ValueError, match="unknown tapstack_action 'drop_everything'"):
        lambda_handler.handler({"tapstack_action": "drop_everything"}, context())


def test_the_bootstrap_action_reads_the_master_secret_and_creates_the_schema_over_tls(
    monkeypatch, mariadb
):
    """Runs the real bootstrap path against MariaDB as the 'RDS master' (root): everything
    up to the IAM user works; MariaDB has no AWSAuthenticationPlugin, so that statement is
    the one expected to fail, which shows it reached the server as written for RDS."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name=REGION)
        arn = secrets.create_secret(
            Name="rds!db-tapstack", SecretString=json.dumps({"username": "root", "password": ""})
        )["ARN"]
        for variable, value in {
            "DB_HOST": "127.0.0.1",
            "DB_PORT": str(mariadb.port),
            "DB_NAME": name,
            "DB_USER": "iam_loader",
            "AWS_REGION": REGION,
            "ROLE": "writer",
            "DB_MASTER_SECRET_ID": arn,
        }.items():
            monkeypatch.setenv(variable, value)
        local_ca = tls_context(mariadb.tls_ca_path)
        monkeypatch.setattr(lambda_handler, "tls_context", lambda: local_ca)
        lambda_handler._cache.clear()
        try:
            with pytest.raises(pymysql.err.MySQLError, match="AWSAuthenticationPlugin"):
                lambda_handler.handler({"tapstack_action": "bootstrap"}, context())
        finally:
            lambda_handler._cache.clear()
    try:
        with mariadb.root_cursor(name) as cursor:
            cursor.execute("SHOW TABLES")
            tables = sorted(row[0] for row in cursor.fetchall())
        assert tables == ["events", "tapstack_load_manifest", "tapstack_load_refused"]
    finally:
        mariadb.drop_database(name)


def test_the_bootstrap_action_creates_the_reader_named_by_db_read_user(monkeypatch):
    """The IAM statements cannot run on MariaDB (above): this shows the action hands the
    reader's name to the same bootstrap that test_loader_database runs for real."""
    received = {}
    monkeypatch.setattr(lambda_handler, "run_bootstrap", lambda **kwargs: received.update(kwargs))
    monkeypatch.setattr(lambda_handler.boto3, "client", lambda *args, **kwargs: object())
    env = {**REQUIRED, "DB_MASTER_SECRET_ID": "m", "DB_READ_USER": "tapstack_reader"}
    lambda_handler._bootstrap(Settings.from_env(env))
    assert (received["loader_user"], received["reader_user"]) == ("u", "tapstack_reader")
    assert received["database"] == "d"


def test_the_lock_wait_stays_five_seconds_below_the_database_read_timeout():
    """GET_LOCK sends nothing while it waits: a wait as long as the read timeout would end in
    'Lost connection' (2013) instead of a LockTimeout."""
    default = Settings.from_env(REQUIRED)  # DB_READ_TIMEOUT 300
    short = Settings.from_env({**REQUIRED, "DB_READ_TIMEOUT": "30"})

    assert lambda_handler._lock_timeout(context(remaining_ms=900_000), default) == 295
    assert lambda_handler._lock_timeout(context(remaining_ms=900_000), short) == 25
    assert lambda_handler._lock_timeout(context(remaining_ms=20_000), short) == 10
