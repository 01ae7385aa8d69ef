"""Storage adapters: SQLite (default) and PostgreSQL behind one small Database contract."""
