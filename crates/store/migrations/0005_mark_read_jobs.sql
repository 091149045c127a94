-- Background jobs may also mark a whole community read (after fetching its
-- recent history first, when asked). SQLite cannot change a CHECK constraint in
-- place: rebuild the table, keeping every row and id.
CREATE TABLE sync_jobs_new (
    id            INTEGER PRIMARY KEY,
    kind          TEXT    NOT NULL CHECK (kind IN ('full', 'chat', 'community', 'mark_read')),
    target        TEXT,
    state         TEXT    NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'running', 'paused', 'done', 'failed', 'cancelled')),
    max_messages  INTEGER,
    messages_done INTEGER NOT NULL DEFAULT 0,
    chats_done    INTEGER NOT NULL DEFAULT 0,
    chats_total   INTEGER,
    last_error    TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    finished_at   INTEGER
);
INSERT INTO sync_jobs_new SELECT id, kind, target, state, max_messages, messages_done, chats_done, chats_total,
    last_error, created_at, updated_at, finished_at FROM sync_jobs;
DROP TABLE sync_jobs;
ALTER TABLE sync_jobs_new RENAME TO sync_jobs;
CREATE INDEX sync_jobs_open ON sync_jobs (state) WHERE state IN ('queued', 'running', 'paused');
