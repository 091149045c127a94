//! The engine with the real `whatsapp-rust` client, against the local WhatsApp
//! server (`wa-localserver`): no account, no network, the unmodified client.
// Scenario tests read top to bottom, one story each: long is clearer than split.
#![allow(clippy::too_many_lines)]

mod real_client;
