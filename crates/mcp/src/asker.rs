//! Who is asking, as far as this computer can tell, not only as the client
//! names itself: any program of the person's can connect to the app and call
//! itself "Claude". The app learns the connecting program from the system
//! (the socket's peer credentials on Unix, the pipe's client process on
//! Windows; wa-app's `channel::peer`) and, when that is our helper, the
//! program that started the helper: the assistant app itself. The approval
//! dialog and the audit log show both.
//!
//! This names; it does not shut out. Programs of the same user are inside the
//! trust boundary, as they are for the keychain (docs/ARCHITECTURE.md,
//! Security): one that wanted to could also read the archive's key. The name
//! lets the person see an unexpected asker, and the audit log keep it.

/// The asker as the system tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Asker {
    /// Not known (a test, or a system that does not say).
    #[default]
    Unknown,
    /// Through the helper, which `program` started (the assistant app).
    ViaHelper { program: String },
    /// A program that connected to the app itself, not through the helper.
    Direct { program: String },
    /// Over the network (remote use, behind its token).
    Remote,
}

impl Asker {
    /// The name the client gave, with what the system says: what the dialog
    /// shows and the audit log keeps.
    pub fn describe(&self, declared: &str) -> String {
        match self {
            Self::Unknown => declared.to_owned(),
            Self::ViaHelper { program } => format!("{declared} (started by {program})"),
            Self::Direct { program } => format!("{declared} (the program {program}, not through the helper)"),
            Self::Remote => format!("{declared} (over the network, with the remote-use token)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Asker;

    #[test]
    fn the_declared_name_comes_with_what_the_system_says() {
        assert_eq!(Asker::Unknown.describe("Claude"), "Claude");
        let helper = Asker::ViaHelper {
            program: "/usr/lib/claude-desktop/claude".into(),
        };
        assert_eq!(
            helper.describe("Claude"),
            "Claude (started by /usr/lib/claude-desktop/claude)"
        );
        let direct = Asker::Direct {
            program: "/usr/bin/python3.11".into(),
        };
        assert!(
            direct
                .describe("Claude")
                .contains("/usr/bin/python3.11, not through the helper")
        );
        assert!(Asker::Remote.describe("Claude").contains("over the network"));
    }
}
