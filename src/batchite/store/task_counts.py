"""Each job's tasks counted by state and result, kept by SQLite itself.

`task_counts` has a row per (account, job, state, result) with the number of tasks and the slots
they require. Triggers on `entities` keep it in the same transaction as every task written,
replaced or deleted, so counting a job of a million tasks reads a few rows instead of its index.
"""

from __future__ import annotations

TASK_COUNTS_TABLE = """
CREATE TABLE IF NOT EXISTS task_counts (
    account TEXT NOT NULL,
    job TEXT NOT NULL,
    state TEXT NOT NULL,
    result TEXT NOT NULL DEFAULT '',
    tasks INTEGER NOT NULL,
    slots INTEGER NOT NULL,
    PRIMARY KEY (account, job, state, result)
) WITHOUT ROWID;
"""

_ADD = """
    INSERT INTO task_counts (account, job, state, result, tasks, slots)
    VALUES (NEW.account, NEW.parent, NEW.state, COALESCE(NEW.result, ''), 1, NEW.slots)
    ON CONFLICT (account, job, state, result) DO UPDATE SET tasks = tasks + 1, slots = slots + NEW.slots;
"""
_TAKE = """
    UPDATE task_counts SET tasks = tasks - 1, slots = slots - OLD.slots
    WHERE account = OLD.account AND job = OLD.parent AND state = OLD.state AND result = COALESCE(OLD.result, '');
"""

TASK_COUNT_TRIGGERS = f"""
CREATE TRIGGER IF NOT EXISTS task_counts_insert AFTER INSERT ON entities WHEN NEW.kind = 'task'
BEGIN {_ADD} END;
CREATE TRIGGER IF NOT EXISTS task_counts_delete AFTER DELETE ON entities WHEN OLD.kind = 'task'
BEGIN {_TAKE} END;
CREATE TRIGGER IF NOT EXISTS task_counts_update AFTER UPDATE OF state, result, slots ON entities
WHEN NEW.kind = 'task' AND (OLD.state IS NOT NEW.state OR OLD.result IS NOT NEW.result OR OLD.slots IS NOT NEW.slots)
BEGIN {_TAKE} {_ADD} END;
"""

# Schema 5 -> 6: the counts of the tasks already stored.
FILL_TASK_COUNTS = """
INSERT INTO task_counts (account, job, state, result, tasks, slots)
SELECT account, parent, state, COALESCE(result, ''), COUNT(*), SUM(slots) FROM entities
WHERE kind = 'task' GROUP BY account, parent, state, COALESCE(result, '');
"""
