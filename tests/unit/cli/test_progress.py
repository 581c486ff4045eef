from milvus_backup.cli.progress import RichProgress


def test_bar_counts_bytes_and_items_and_stops_cleanly():
    for unit, total in (("bytes", 10_000_000), ("segments", 7)):
        progress = RichProgress()
        progress.start(total, unit, "work")
        progress.advance(total // 2)
        assert progress._bar.tasks[0].completed == total // 2 and progress._bar.tasks[0].total == total
        progress.finish()
        progress.advance(1)  # after finish: ignored, no error
