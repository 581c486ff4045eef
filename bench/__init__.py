"""The benchmark: speed and memory of milvus-backup as ratios against baselines run in the same process."""
