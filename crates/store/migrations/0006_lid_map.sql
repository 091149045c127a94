-- Version 6: one person, two addresses.
--
-- WhatsApp addresses a person by phone number (…@s.whatsapp.net) and by a
-- private id, the LID (…@lid), and says which LID belongs to which number
-- separately and often later than the messages. The archive keeps one contact
-- and one direct chat per person, under the phone number once the mapping is
-- known (people search and send by number); what arrived under the LID before
-- is merged into it (ingest/lid.rs). A LID whose number is never told stays a
-- chat of its own, under the LID.
CREATE TABLE lid_map (
    lid TEXT    PRIMARY KEY,  -- 1234…@lid
    pn  TEXT    NOT NULL,     -- 4477…@s.whatsapp.net
    at  INTEGER NOT NULL      -- when WhatsApp told us (ms); a newer mapping of the same LID wins
) WITHOUT ROWID;
CREATE INDEX lid_map_by_pn ON lid_map (pn);

-- Mappings an older version kept on the contact (from group member lists and
-- contact updates). The store merges the chats they split when it opens.
INSERT OR IGNORE INTO lid_map (lid, pn, at)
SELECT lid, jid, updated_at FROM contacts
WHERE lid LIKE '_%@lid' AND jid LIKE '_%@s.whatsapp.net';
