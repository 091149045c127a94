-- Version 4: an edit carries its text as the search index sees it, so edits can
-- be folded into their messages by one set-based UPDATE (see ingest.rs).
ALTER TABLE message_changes ADD COLUMN search_text TEXT;
