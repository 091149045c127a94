//! Signed updates end to end on 127.0.0.1: a local update server, packages
//! signed by the Tauri CLI (`tauri signer sign --app-version`), `latest.json`
//! written by the release script (installers/updates/latest-json.py), and the
//! real updater plugin installing over a scratch copy of the program.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wa_desktop::updates::{UpdateSource, Updates};

use crate::harness::TestApp;

/// A file the server serves: its bytes, and the length it claims (a lie
/// simulates a connection cut mid-download).
#[derive(Clone)]
struct Served {
    body: Vec<u8>,
    claimed_len: usize,
}

/// A tiny HTTP/1.1 server on 127.0.0.1 for the manifest and the packages.
struct UpdateServer {
    url: String,
    files: Arc<Mutex<HashMap<String, Served>>>,
}

impl UpdateServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let files: Arc<Mutex<HashMap<String, Served>>> = Arc::default();
        let served = files.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let files = served.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut request = String::new();
                    if reader.read_line(&mut request).is_err() {
                        return;
                    }
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).map_or(true, |n| n == 0) || line == "\r\n" {
                            break;
                        }
                    }
                    let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let found = files.lock().unwrap().get(&path).cloned();
                    let _ = match found {
                        Some(file) => stream
                            .write_all(
                                format!(
                                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                    file.claimed_len
                                )
                                .as_bytes(),
                            )
                            .and_then(|()| stream.write_all(&file.body)),
                        None => stream
                            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
                    };
                });
            }
        });
        Self { url, files }
    }

    fn put(&self, path: &str, body: Vec<u8>) {
        let claimed_len = body.len();
        self.files
            .lock()
            .unwrap()
            .insert(path.into(), Served { body, claimed_len });
    }

    /// Serve `body` but announce `claimed_len` bytes, then close.
    fn put_cut(&self, path: &str, body: Vec<u8>, claimed_len: usize) {
        self.files
            .lock()
            .unwrap()
            .insert(path.into(), Served { body, claimed_len });
    }
}

/// A signing key made by the Tauri CLI (`tauri signer generate`), which also
/// signs the packages (`tauri signer sign --app-version`), as a release does.
struct Signer {
    _dir: tempfile::TempDir,
    key: PathBuf,
}

/// The Tauri CLI (npm, pinned in ui/package.json; `./dev test` installs it).
fn tauri_cli() -> PathBuf {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/node_modules/.bin/tauri");
    assert!(
        cli.exists(),
        "{} is missing: run `npm ci` in ui/ (./dev test does)",
        cli.display()
    );
    cli
}

impl Signer {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("updates.key");
        let out = std::process::Command::new(tauri_cli())
            .args(["signer", "generate", "--ci", "--password", "", "--write-keys"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        Self { _dir: dir, key }
    }

    /// The public key as `tauri.conf.json` holds it (the `.pub` file).
    fn public(&self) -> String {
        std::fs::read_to_string(self.key.with_extension("key.pub"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// Sign `file` for `version`: writes `FILE.sig`.
    fn sign(&self, file: &Path, version: &str) {
        let out = std::process::Command::new(tauri_cli())
            .args([
                "signer",
                "sign",
                "--password",
                "",
                "--app-version",
                version,
                "--private-key-path",
            ])
            .arg(&self.key)
            .arg(file)
            .env_remove("TAURI_SIGNING_PRIVATE_KEY")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

/// `latest.json` from the release script, for packages already signed.
fn latest_json(version: &str, base_url: &str, packages: &[(&str, &Path)]) -> Vec<u8> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../installers/updates/latest-json.py");
    let mut command = std::process::Command::new("python3");
    command.arg(&script).args([
        "--version",
        version,
        "--notes",
        "Faster search.",
        "--base-url",
        base_url,
    ]);
    for (target, file) in packages {
        command.arg("--package").arg(format!("{target}={}", file.display()));
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// The updater target of this machine, as the plugin names it (`linux-x86_64`).
fn this_target() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    format!("{os}-{}", std::env::consts::ARCH)
}

/// The installed program (a scratch copy), the new build, and an app whose
/// updater points at the local server and trusts `signer`.
struct Setup {
    app: TestApp,
    server: UpdateServer,
    signer: Signer,
    installed: PathBuf,
    new_build: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let server = UpdateServer::start();
        let signer = Signer::new();
        let public = signer.public();
        let dir = tempfile::tempdir().unwrap().keep();
        // The installed program: a real executable standing for the running version.
        let installed = dir.join("whatsapp-mcp-desktop");
        std::fs::copy("/bin/true", &installed).unwrap();
        // The new build: this project's app binary.
        let new_build = dir.join("whatsapp-mcp-desktop_0.2.0_amd64");
        std::fs::copy(env!("CARGO_BIN_EXE_whatsapp-mcp-desktop"), &new_build).unwrap();
        let source = UpdateSource {
            endpoints: Some(vec![format!("{}/latest.json", server.url).parse().unwrap()]),
            executable: Some(installed.clone()),
        };
        let app = TestApp::build(
            true,
            Box::new(move |builder| {
                builder
                    .plugin(tauri_plugin_updater::Builder::new().pubkey(public).build())
                    .manage(Updates::new(source))
            }),
        );
        Self {
            app,
            server,
            signer,
            installed,
            new_build,
        }
    }

    /// Publish the new build as `version`, signed for `signed_for` with our key.
    fn publish(&self, version: &str, signed_for: &str) {
        self.publish_signed_by(&self.signer, version, signed_for);
    }

    /// The same, signed with `signer`'s key.
    fn publish_signed_by(&self, signer: &Signer, version: &str, signed_for: &str) {
        signer.sign(&self.new_build, signed_for);
        let manifest = latest_json(version, &self.server.url, &[(&this_target(), &self.new_build)]);
        self.server.put("/latest.json", manifest);
        self.server
            .put(&self.package_path(), std::fs::read(&self.new_build).unwrap());
    }

    /// Where the server has the package.
    fn package_path(&self) -> String {
        format!("/{}", self.new_build.file_name().unwrap().to_string_lossy())
    }

    /// Change the published manifest (as someone between us and the person could).
    fn tamper_manifest(&self, edit: impl FnOnce(&mut Value)) {
        let mut files = self.server.files.lock().unwrap();
        let served = files.get_mut("/latest.json").unwrap();
        let mut manifest: Value = serde_json::from_slice(&served.body).unwrap();
        edit(&mut manifest);
        served.body = serde_json::to_vec(&manifest).unwrap();
        served.claimed_len = served.body.len();
    }

    fn installed_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.installed).unwrap()
    }

    /// Check, then ask to install: refused, the program untouched, the app
    /// still answering. Returns what the person is told.
    fn install_is_refused(&self) -> String {
        let before = self.installed_bytes();
        self.app.invoke("check_for_update", json!({})).unwrap();
        let refused = self.app.invoke("install_update", json!({})).unwrap_err();
        assert_eq!(self.installed_bytes(), before, "the program changed after: {refused}");
        self.still_works();
        message(&refused).to_owned()
    }

    /// The running app still answers and its data is all there.
    fn still_works(&self) {
        let status = self.app.invoke("app_status", json!({})).unwrap();
        assert_eq!(status["version"], json!(env!("CARGO_PKG_VERSION")));
        assert_eq!(
            self.app.invoke("integrity_check", json!({})).unwrap()["ok"],
            json!(true)
        );
    }
}

fn message(error: &Value) -> &str {
    error.as_str().unwrap_or_default()
}

#[test]
fn a_newer_signed_build_is_offered_then_installed_over_the_program_keeping_the_data() {
    let setup = Setup::new();
    let before = setup.app.invoke("app_status", json!({})).unwrap();
    setup.publish("0.2.0", "0.2.0");

    let offer = setup.app.invoke("check_for_update", json!({})).unwrap();
    assert_eq!(offer["version"], json!("0.2.0"));
    assert_eq!(offer["current"], json!("0.1.0"));
    assert_eq!(offer["notes"], json!("Faster search."));
    // Nothing is installed by checking.
    assert_eq!(setup.installed_bytes(), std::fs::read("/bin/true").unwrap());

    let installed = setup.app.invoke("install_update", json!({})).unwrap();
    assert_eq!(installed, json!("0.2.0"));
    assert_eq!(
        setup.installed_bytes(),
        std::fs::read(&setup.new_build).unwrap(),
        "the program was replaced"
    );
    // The replaced program is the new build and runs.
    let out = std::process::Command::new(&setup.installed)
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "whatsapp-mcp-desktop 0.1.0"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_ne!(
            std::fs::metadata(&setup.installed).unwrap().permissions().mode() & 0o111,
            0
        );
    }
    // The data folder is untouched: same messages, same settings.
    let after = setup.app.invoke("app_status", json!({})).unwrap();
    assert_eq!(after["messages"], before["messages"]);
    assert_eq!(after["data_dir"], before["data_dir"]);
    setup.still_works();
    // Installing twice is refused: the offer was used.
    let again = setup.app.invoke("install_update", json!({})).unwrap_err();
    assert!(message(&again).contains("check for updates first"), "{again}");
}

#[test]
fn the_same_or_an_older_version_is_not_offered() {
    let setup = Setup::new();
    setup.publish("0.1.0", "0.1.0");
    assert_eq!(setup.app.invoke("check_for_update", json!({})), Ok(Value::Null));
    setup.publish("0.0.9", "0.0.9");
    assert_eq!(setup.app.invoke("check_for_update", json!({})), Ok(Value::Null));
}

#[test]
fn a_package_signed_with_another_key_is_refused_and_nothing_changes() {
    let setup = Setup::new();
    let stranger = Signer::new();
    setup.publish_signed_by(&stranger, "0.2.0", "0.2.0");
    let refused = setup.install_is_refused();
    assert!(refused.contains("signature does not match"), "{refused}");
    assert!(refused.contains("this version keeps working"), "{refused}");
}

#[test]
fn a_manifest_pairing_a_new_version_with_a_package_signed_for_another_is_refused() {
    let setup = Setup::new();
    // The package is genuinely ours, signed for 0.1.5; a tampered manifest claims 0.2.0.
    setup.publish("0.1.5", "0.1.5");
    setup.tamper_manifest(|m| m["version"] = json!("0.2.0"));
    let offer = setup.app.invoke("check_for_update", json!({})).unwrap();
    assert_eq!(offer["version"], json!("0.2.0"));
    let refused = setup.install_is_refused();
    assert!(
        refused.contains("announced version 0.2.0") && refused.contains("signed for version 0.1.5"),
        "{refused}"
    );
}

#[test]
fn a_version_string_that_is_not_a_version_is_refused_in_words() {
    let setup = Setup::new();
    setup.publish("0.2.0", "0.2.0");
    setup.tamper_manifest(|m| m["version"] = json!("two point oh"));
    let refused = setup.app.invoke("check_for_update", json!({})).unwrap_err();
    assert!(message(&refused).contains("could not be read"), "{refused}");
    assert!(message(&refused).contains("This version keeps working"), "{refused}");
    assert_eq!(setup.installed_bytes(), std::fs::read("/bin/true").unwrap());
    setup.still_works();
}

#[test]
fn a_truncated_package_is_refused_whether_cut_on_the_server_or_in_transit() {
    let setup = Setup::new();
    setup.publish("0.2.0", "0.2.0");
    let package = setup.package_path();
    let full = std::fs::read(&setup.new_build).unwrap();

    // Cut on the server: a shorter file, served whole.
    setup.server.put(&package, full[..full.len() / 2].to_vec());
    let refused = setup.install_is_refused();
    assert!(refused.contains("signature does not match"), "{refused}");

    // Cut in transit: the connection closes before the announced length.
    setup
        .server
        .put_cut(&package, full[..full.len() / 3].to_vec(), full.len());
    let refused = setup.install_is_refused();
    assert!(refused.contains("could not be reached"), "{refused}");
}

#[test]
fn no_update_server_or_no_build_for_this_system_is_said_in_words() {
    let setup = Setup::new();
    // Nothing published yet: the server answers 404.
    let refused = setup.app.invoke("check_for_update", json!({})).unwrap_err();
    assert!(message(&refused).contains("did not offer a release"), "{refused}");
    // A release for other systems only.
    setup.signer.sign(&setup.new_build, "0.2.0");
    let manifest = latest_json("0.2.0", &setup.server.url, &[("windows-x86_64", &setup.new_build)]);
    setup.server.put("/latest.json", manifest);
    let refused = setup.app.invoke("check_for_update", json!({})).unwrap_err();
    assert!(
        message(&refused).contains("no version for this kind of computer"),
        "{refused}"
    );
    setup.still_works();
    // The app's own configuration: our key and https endpoints (never plain http).
    let config = setup.app.app.config();
    let updater = &config.plugins.0["updater"];
    assert!(updater["pubkey"].as_str().is_some_and(|k| k.len() > 40));
    assert_eq!(updater["requireSignedVersion"], json!(true));
    for endpoint in updater["endpoints"].as_array().unwrap() {
        assert!(endpoint.as_str().unwrap().starts_with("https://"), "{endpoint}");
    }
}

#[test]
fn the_release_script_refuses_a_bad_version_or_a_signature_for_another_version() {
    let setup = Setup::new();
    setup.signer.sign(&setup.new_build, "0.1.5");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../installers/updates/latest-json.py");
    let run = |version: &str| {
        std::process::Command::new("python3")
            .arg(&script)
            .args(["--version", version, "--base-url", "https://example.org/r"])
            .arg("--package")
            .arg(format!("linux-x86_64={}", setup.new_build.display()))
            .output()
            .unwrap()
    };
    let mismatch = run("0.2.0");
    assert!(!mismatch.status.success());
    let said = String::from_utf8_lossy(&mismatch.stderr);
    assert!(said.contains("signed for version 0.1.5"), "{said}");
    let not_semver = run("2.0");
    assert!(!not_semver.status.success());
    assert!(String::from_utf8_lossy(&not_semver.stderr).contains("not a version"));
    assert!(run("0.1.5").status.success());
}

#[test]
fn a_copy_built_from_source_is_told_how_it_updates_instead_of_being_overwritten() {
    // The app's own configuration (real endpoint and key), running from a build
    // that is not an installed bundle, as `./dev app` does.
    let app = TestApp::build(
        true,
        Box::new(|builder| {
            builder
                .plugin(tauri_plugin_updater::Builder::new().build())
                .manage(Updates::new(UpdateSource::default()))
        }),
    );
    let said = app.invoke("check_for_update", json!({})).unwrap_err();
    assert!(message(&said).contains("built from source"), "{said}");
    let nothing = app.invoke("install_update", json!({})).unwrap_err();
    assert!(message(&nothing).contains("check for updates first"), "{nothing}");
}
