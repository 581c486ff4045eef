from milvus_backup.cli.app import main

main()
