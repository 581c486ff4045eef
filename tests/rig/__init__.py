"""Real servers on 127.0.0.1 for the test suite (fixtures in tests/conftest.py).

- ``ports``: free ports, readiness polling, start errors carrying log tails
- ``proc``: process groups, SIGKILL teardown, the atexit safety net
- ``seaweed``: SeaweedFS as S3 (real SigV4 auth)
- ``azurite``: Azure Blob emulator
- ``fakegcs``: fake-gcs-server
- ``milvus``: Milvus 2.3.5 standalone (local or S3 storage), several side by side
"""
