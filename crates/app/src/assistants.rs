//! Connecting assistants (Claude Desktop and the others) to this app's helper,
//! as the wizard's and the Assistants page's buttons do.

use serde::Serialize;
pub use wa_clients::{Client, ClientState, Env, Status, register, restart, states, unregister};

use crate::services::Services;

/// What connecting or disconnecting one client did, in words.
#[derive(Debug, Serialize)]
pub struct ClientOutcome {
    pub client: Client,
    pub ok: bool,
    pub message: String,
}

impl Services {
    /// Assistants found on this computer and how each stands.
    pub fn assistants(&self) -> Vec<ClientState> {
        wa_clients::states(&Env::from_system(), &self.helper)
    }

    /// Connect (or disconnect) each of `clients`; one sentence each.
    pub fn connect_assistants(&self, clients: Vec<Client>, connect: bool) -> Vec<ClientOutcome> {
        let env = Env::from_system();
        clients
            .into_iter()
            .map(|client| {
                let done = if connect {
                    wa_clients::register(&env, client, &self.helper)
                } else {
                    wa_clients::unregister(&env, client)
                };
                let name = client.name();
                match done {
                    Ok(change) => {
                        let mut message = match (connect, change.changed) {
                            (true, _) => format!("{name} is connected. Restart {name} to finish."),
                            (false, true) => format!("{name} is disconnected."),
                            (false, false) => format!("{name} was not connected."),
                        };
                        if let Some(old) = change.replaced {
                            message = format!("{message} It used {old} before; those settings are kept in the backup.");
                        }
                        ClientOutcome {
                            client,
                            ok: true,
                            message,
                        }
                    }
                    Err(e) => ClientOutcome {
                        client,
                        ok: false,
                        message: e.to_string(),
                    },
                }
            })
            .collect()
    }
}
