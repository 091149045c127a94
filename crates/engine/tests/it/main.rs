//! The engine with the real `whatsapp-rust` client, against the local WhatsApp
//! server (`wa-localserver`): no account, no network, the unmodified client.

mod real_client;
