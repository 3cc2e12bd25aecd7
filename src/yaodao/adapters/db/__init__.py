"""SQL persistence: tables, engine set-up, repositories, the unit of work, migrations."""
