//! Linking this computer to the phone: fresh QR codes, or a code to type on the
//! phone (pairing by phone number). The codes themselves, their rotation and
//! running out are events of the account, folded into the state machine
//! (`state`); this is what the person asks for.

use crate::engine::{Engine, lock};
use crate::error::{EngineError, Result};
use crate::port::PortError;
use crate::state::Action;

impl Engine {
    /// The person asks for fresh QR codes (after they ran out, or to start over).
    pub async fn new_qr_codes(&self) -> Result<()> {
        let action = lock(&self.inner.connection).restart_linking();
        self.publish_state();
        if let Action::Reconnect(_) = action {
            self.inner.port.disconnect().await;
            self.inner.port.connect().await?;
        }
        Ok(())
    }

    /// Link with a phone number: returns the 8-character code to type on the phone.
    pub async fn pair_with_phone(&self, phone: &str) -> Result<String> {
        // The same rules as every number typed anywhere (`wa_store::Jid::phone`).
        let Some(number) = wa_store::Jid::phone(phone) else {
            return Err(EngineError::InvalidInput(
                "Type the full phone number with its country code, for example +44 7700 900123.".into(),
            ));
        };
        let digits = number.phone_number().unwrap_or_default();
        match self.inner.port.pair_with_phone(digits).await {
            Ok(code) => Ok(code),
            Err(PortError::RateLimited { .. }) => Err(EngineError::InvalidInput(
                "WhatsApp gives only a few codes in a row. Wait a few minutes and ask again, or scan the QR \
                 code instead."
                    .into(),
            )),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests;
