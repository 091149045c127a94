-- Version 2: full-text search.
--
-- Tokenizer (chosen by measurement, see docs/benchmarks.md): unicode61 with
-- diacritics folded, so "cancion" finds "canción". Marks (M*) are word
-- characters so Devanagari and Arabic words stay whole; symbols (So) are too,
-- and the store splits CJK and emoji into one-character words itself
-- (search_text), so "你好" and "🎉" are found inside longer text.
--
-- The index has two columns: body (the text) and tags: c<chat id>, s<sender id>,
-- fm (from me) and hm (has media). Filters become index look-ups joined with
-- the words, and results come newest first by walking ids backwards.

CREATE VIEW messages_fts_source AS
SELECT
    id,
    coalesce(search_text, text, '') AS body,
    'c' || chat_id || ' s' || sender_id
        || CASE WHEN from_me THEN ' fm' ELSE '' END
        || CASE WHEN kind IN ('image', 'video', 'audio', 'voice', 'document', 'sticker')
                THEN ' hm' ELSE '' END AS tags
FROM messages;

CREATE VIRTUAL TABLE messages_fts USING fts5(
    body,
    tags,
    content = 'messages_fts_source',
    content_rowid = 'id',
    tokenize = "unicode61 remove_diacritics 2 categories 'L* N* Co M* So'"
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body, tags)
    SELECT id, body, tags FROM messages_fts_source WHERE id = new.id;
END;

CREATE TRIGGER messages_fts_delete BEFORE DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body, tags)
    SELECT 'delete', id, body, tags FROM messages_fts_source WHERE id = old.id;
END;

CREATE TRIGGER messages_fts_before_update
BEFORE UPDATE OF text, search_text, chat_id, sender_id, from_me, kind ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body, tags)
    SELECT 'delete', id, body, tags FROM messages_fts_source WHERE id = old.id;
END;

CREATE TRIGGER messages_fts_after_update
AFTER UPDATE OF text, search_text, chat_id, sender_id, from_me, kind ON messages BEGIN
    INSERT INTO messages_fts (rowid, body, tags)
    SELECT id, body, tags FROM messages_fts_source WHERE id = new.id;
END;

-- Databases migrated from version 1 already hold messages: index them.
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
