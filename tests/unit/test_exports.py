import subprocess
import sys

import milvus_backup


def test_every_exported_name_resolves():
    for name in milvus_backup.__all__:
        assert getattr(milvus_backup, name) is not None, name


def test_importing_the_package_and_cli_does_not_load_pymilvus():
    code = "import milvus_backup.cli.app, sys; print('pymilvus' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_command_line_works_without_loading_pyarrow():
    # pyarrow is installed here (the benchmark needs it), so pandas would load it when pymilvus imports pandas.
    code = (
        "import sys; from milvus_backup.cli.app import _leave_out_pyarrow; _leave_out_pyarrow(); "
        "import pymilvus, pandas; from milvus_backup.milvus import client; "
        "print(pandas.DataFrame({'a': ['x']}).shape, sys.modules['pyarrow'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "(1, 1) None"
