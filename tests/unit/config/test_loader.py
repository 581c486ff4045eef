import logging
from pathlib import Path

import pytest

from milvus_backup.config import effective_rows, load_config
from milvus_backup.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO.parent / "shared" / "reference" / "upstream-samples"

needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="upstream samples live in ../shared (not in the repo)")


def write(tmp_path: Path, text: str, name: str = "backup.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@needs_samples
def test_upstream_v1_sample_loads_unchanged():
    loaded = load_config(str(SAMPLES / "v0.5.16/configs/backup.yaml"), env={}, explicit=True)
    cfg = loaded.config
    assert loaded.schema == "v1"
    assert (cfg.milvus.grpc.address, cfg.milvus.grpc.port, cfg.milvus.user) == ("localhost", 19530, "root")
    assert cfg.milvus.password.get_secret_value() == "Milvus"
    assert cfg.milvus.storage.provider == "minio"
    assert (cfg.milvus.storage.bucket_name, cfg.milvus.storage.root_path) == ("a-bucket", "files")
    assert (cfg.backup.storage.bucket_name, cfg.backup.storage.root_path) == ("a-bucket", "backup")
    assert cfg.transfer.concurrency == 128 and cfg.backup.concurrency.collections == 4
    assert cfg.restore.concurrency.import_jobs == 768
    assert cfg.backup.pause_gc is True and cfg.milvus.management.endpoint == "http://localhost:9091"
    assert cfg.milvus.etcd.endpoints == ["127.0.0.1:2379"]
    assert cfg.zilliz_cloud.api_key.get_secret_value() == "<your-api-key>"


@needs_samples
def test_upstream_v2_samples_load_unchanged():
    head = load_config(str(SAMPLES / "configs/backup.yaml"), env={}, explicit=True)
    assert head.schema == "v2" and head.warnings == []
    complete = load_config(str(SAMPLES / "internal/cfg/v2/testdata/complete.yaml"), env={}, explicit=True).config
    assert complete.milvus.grpc.tls_mode == "mutual" and complete.milvus.grpc.port == 19531
    assert complete.milvus.storage.provider == "s3" and complete.milvus.storage.use_ssl is True
    assert complete.milvus.storage.auth.session_token.get_secret_value() == "milvus-token"
    # backup.storage inherits what it does not set from milvus.storage
    assert complete.backup.storage.provider == "s3" and complete.backup.storage.region == "us-west-2"
    assert complete.backup.storage.bucket_name == "backup-bucket"
    assert complete.backup.storage.auth.access_key_id == "milvus-ak"
    assert complete.transfer.mode == "streaming" and complete.transfer.multipart_copy_threshold_mib == 128
    assert complete.restore.max_segments_per_import_job == 128 and complete.restore.keep_temp_files is True
    assert complete.log.file.max_backups == 3 and complete.server.swagger_base_path == "/backup"
    cross = load_config(str(SAMPLES / "configs/backup-s3.yaml"), env={}, explicit=True).config
    assert cross.backup.storage.provider == "aws" and cross.milvus.storage.provider == "minio"


def test_no_file_means_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    loaded = load_config(env={})
    assert loaded.path is None and loaded.config.milvus.grpc.port == 19530
    assert loaded.config.backup.storage.root_path == "backup"


def test_explicit_missing_file_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        load_config("nope.yaml", env={}, explicit=True)


def test_lookup_order_milvusconf_then_configs_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    write(tmp_path / "configs", "milvus:\n  port: 1111\n")
    assert load_config(env={}).config.milvus.grpc.port == 1111
    conf = tmp_path / "conf"
    conf.mkdir()
    write(conf, "milvus:\n  port: 2222\n")
    assert load_config(env={"MILVUSCONF": str(conf)}).config.milvus.grpc.port == 2222


def test_v1_env_and_set_override_with_precedence(tmp_path):
    path = write(tmp_path, "milvus:\n  address: filehost\n  port: 1\nminio:\n  bucketName: b\n")
    loaded = load_config(
        path, ["milvus.port=3"], env={"MILVUS_PORT": "2", "MINIO_BACKUP_BUCKET_NAME": "bb", "MILVUS_ADDRESS": "envhost"}
    )
    cfg = loaded.config
    assert cfg.milvus.grpc.port == 3  # --set beats env beats file
    assert cfg.milvus.grpc.address == "envhost"
    assert cfg.backup.storage.bucket_name == "bb" and cfg.milvus.storage.bucket_name == "b"
    sources = {key: (kind, source) for key, _, kind, source in effective_rows(loaded)}
    assert sources["milvus.grpc.port"] == ("override", "milvus.port")
    assert sources["milvus.grpc.address"] == ("env", "MILVUS_ADDRESS")
    assert sources["backup.storage.bucketName"] == ("env", "MINIO_BACKUP_BUCKET_NAME")


def test_set_accepts_env_names_and_comma_lists(tmp_path):
    path = write(tmp_path, "configVersion: v2\n")
    cfg = load_config(path, ["MILVUS_USER=alice,milvus.etcd.endpoints=h1:2379,h2:2379"], env={}).config
    assert cfg.milvus.user == "alice" and cfg.milvus.etcd.endpoints == ["h1:2379", "h2:2379"]
    with pytest.raises(ConfigError, match="unknown configuration key"):
        load_config(path, ["milvus.nope=1"], env={})


def test_v2_reads_only_credentials_from_env(tmp_path):
    path = write(tmp_path, "configVersion: v2\nmilvus:\n  grpc:\n    port: 19530\n")
    cfg = load_config(
        path,
        env={
            "MILVUS_PORT": "tcp://10.0.0.1:19530",
            "MILVUS_PASSWORD": "pw",
            "BACKUP_STORAGE_AUTH_SECRET_ACCESS_KEY": "bsk",
        },
    ).config
    assert cfg.milvus.grpc.port == 19530
    assert cfg.milvus.password.get_secret_value() == "pw"
    assert cfg.backup.storage.auth.secret_access_key.get_secret_value() == "bsk"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("milvus:\n  port: abc\n", "key milvus.port in"),
        ("minio:\n  storageType: floppy\n", "key minio.storageType in"),
        ("milvus:\n  tlsMode: 7\n", "key milvus.tlsMode in"),
        ("configVersion: v2\nmilvus:\n  grpc:\n    port: 0\n", "key milvus.grpc.port in"),
        ("configVersion: v2\ntransfer:\n  mode: teleport\n", "key transfer.mode in"),
        ("configVersion: v3\n", "configVersion"),
        ("configVersion: v2\nmilvus:\n  storage:\n    auth:\n      type: iam\n      accountKey: k\n", "accountKey"),
        ("minio:\n  useSSL: maybe\n", "key minio.useSSL in"),
    ],
)
def test_invalid_values_fail_naming_key_and_file(tmp_path, text, named):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert named in str(info.value)
    if "key " in named:
        assert path in str(info.value)


def test_invalid_env_value_names_the_variable(tmp_path):
    path = write(tmp_path, "minio:\n  port: 9000\n")
    with pytest.raises(ConfigError, match="environment variable MINIO_PORT"):
        load_config(path, env={"MINIO_PORT": "abc"})


def test_unknown_keys_warn(tmp_path):
    path = write(tmp_path, "configVersion: v2\nmilvus:\n  address: old\n  grpc:\n    adress: typo\n")
    loaded = load_config(path, env={})
    assert any("milvus.address is a v1 key" in w and "milvus.grpc.address" in w for w in loaded.warnings)
    assert any("unknown key milvus.grpc.adress" in w for w in loaded.warnings)


def test_storage_type_aliases_and_v1_provider_specific_credentials(tmp_path):
    path = write(tmp_path, "minio:\n  storageType: ali\n  backupStorageType: tc\n")
    cfg = load_config(path, env={}).config
    assert (cfg.milvus.storage.provider, cfg.backup.storage.provider) == ("aliyun", "tencent")
    azure = write(tmp_path, "minio:\n  storageType: azure\n  accessKeyID: acct\n  secretAccessKey: key\n", "az.yaml")
    cfg = load_config(azure, env={}).config
    assert cfg.milvus.storage.account_name == "acct"
    assert cfg.milvus.storage.auth.type == "sharedKey"
    assert cfg.milvus.storage.auth.account_key.get_secret_value() == "key"
    iam = write(tmp_path, "minio:\n  useIAM: true\n  iamEndpoint: http://iam\n", "iam.yaml")
    cfg = load_config(iam, env={}).config
    assert cfg.milvus.storage.auth.type == "iam" and cfg.milvus.storage.auth.endpoint == "http://iam"
    cross = write(tmp_path, "minio:\n  crossStorage: true\n", "cross.yaml")
    assert load_config(cross, env={}).config.transfer.mode == "streaming"


def test_tls_mode_two_without_key_pair_downgrades_with_warning(tmp_path):
    path = write(tmp_path, "milvus:\n  tlsMode: 2\n  caCertPath: /ca.pem\n")
    loaded = load_config(path, env={})
    assert loaded.config.milvus.grpc.tls_mode == "server"
    assert any("one-way TLS" in w for w in loaded.warnings)


def test_secrets_are_masked_in_effective_rows(tmp_path):
    path = write(tmp_path, "milvus:\n  password: hunter2\nminio:\n  secretAccessKey: s3cr3t\n")
    rows = effective_rows(load_config(path, env={"MINIO_BACKUP_SECRET_KEY": "b4ckup"}))
    text = repr(rows)
    for secret in ("hunter2", "s3cr3t", "b4ckup"):
        assert secret not in text
    assert ("milvus.password", "******", "config", "milvus.password") in rows


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load_without_warnings(path):
    loaded = load_config(str(path), env={}, explicit=True)
    assert loaded.schema == "v2" and loaded.warnings == []


def test_docs_list_every_environment_variable():
    from milvus_backup.config import v1
    from milvus_backup.config.keys import V2_ENV

    doc = (REPO / "docs" / "config.md").read_text()
    for name in [*V2_ENV, *v1.ENV, *v1.RENAMES]:
        assert f"`{name}`" in doc, name


def test_v1_files_can_configure_the_rest_server(tmp_path):
    path = write(tmp_path, "milvus:\n  port: 1\nserver:\n  address: 0.0.0.0\n")
    cfg = load_config(path, env={"MILVUS_BACKUP_SERVER_TOKEN": "tok"}).config
    assert cfg.server.address == "0.0.0.0" and cfg.server.auth_token.get_secret_value() == "tok"


def test_no_file_is_said_naming_the_paths_tried(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.INFO, logger="milvus_backup"):
        load_config(env={"MILVUSCONF": "/etc/mb"})
    (record,) = [r for r in caplog.records if "no config file" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "looked for backup.yaml, /etc/mb/backup.yaml, configs/backup.yaml" in record.getMessage()
    caplog.clear()
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "backup.yaml").write_text("configVersion: v2\n")
    with caplog.at_level(logging.INFO, logger="milvus_backup"):
        assert load_config(env={}).path == Path("configs/backup.yaml")
    assert not [r for r in caplog.records if "no config file" in r.getMessage()]


def test_a_v1_file_is_noted_at_info_not_warned(tmp_path, caplog):
    path = write(tmp_path, "milvus:\n  address: localhost\n")
    with caplog.at_level(logging.INFO, logger="milvus_backup"):
        loaded = load_config(path, env={}, explicit=True)
    assert loaded.schema == "v1" and loaded.warnings == []
    (record,) = [r for r in caplog.records if "v1 schema" in r.getMessage()]
    assert record.levelno == logging.INFO and "translated to v2" in record.getMessage()
