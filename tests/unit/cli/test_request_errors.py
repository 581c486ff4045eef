"""Each door reports a bad option in its own terms: the command line names its flags (REST names its JSON fields:
tests/integration/test_server.py). Parsing fails before anything is opened, so no server is needed."""

import pytest

from milvus_backup.cli.app import main


def run(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    return info.value.code, out, err


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["-s", "bad-suffix"], "--suffix 'bad-suffix': only letters, digits and '_'"),
        (["-r", "a:b:c"], "--rename 'a:b:c': expected OLD:NEW"),
        (["-r", "db1.*:c2"], "--rename 'db1.*:c2': map a whole database"),
        (["-s", "_x", "-r", "a:b"], "--suffix and --rename cannot be combined"),
        (["--filter", ".c1"], "--filter '.c1': expected coll"),
        (["-a", "{not json"], "--database_collections is not valid JSON"),
    ],
)
def test_restore_names_the_flag(capsys, flags, words):
    code, out, err = run(capsys, "restore", "-n", "some_backup", *flags)
    assert code == 2 and out == ""
    assert f"Error: {words}" in err


def test_create_names_the_flags_that_contradict(capsys):
    code, _, err = run(capsys, "create", "-n", "x", "--force", "--meta_only")
    assert code == 2 and "--force, --meta_only and --strategy contradict each other" in err
