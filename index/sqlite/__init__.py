"""The embedded SQLite backend: one file, WAL, FTS5 over jieba-cut text (index.sqlite.store.SQLiteStore)."""
