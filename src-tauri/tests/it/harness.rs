//! An app on Tauri's mock runtime with the real commands and state.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use serde_json::Value;
use tauri::test::{MockRuntime, mock_builder};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow};
use wa_engine::sim::account::{SimConfig, SimulatedAccount};
use wa_engine::{Engine, EngineOptions};

/// One Tokio runtime for every test, also used by Tauri's async commands
/// (Tauri's runtime can be set once per process).
pub static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    tauri::async_runtime::set(runtime.handle().clone());
    runtime
});

pub struct TestApp {
    pub app: App<MockRuntime>,
    pub window: WebviewWindow<MockRuntime>,
    pub phone: Arc<SimulatedAccount>,
    pub engine: Engine,
    pub store: wa_store::Store,
    pub dir: tempfile::TempDir,
}

/// What to add to the app besides the commands and their state.
pub type Extend = Box<dyn FnOnce(tauri::Builder<MockRuntime>) -> tauri::Builder<MockRuntime>>;

impl TestApp {
    /// The app with a simulated phone that is not linked yet (it never scans by itself).
    pub fn new() -> Self {
        Self::build(true, Box::new(|b| b))
    }

    /// `demo`: whether the window may drive the simulated phone (demo mode).
    pub fn build(demo: bool, extend: Extend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir).unwrap();
        let corpus = wa_corpus::Corpus::new(wa_corpus::Config::small());
        let phone = SimulatedAccount::with_config(corpus, SimConfig::default());
        let (store, engine) = RUNTIME.block_on(async {
            let store = wa_store::Store::open(data_dir.join("messages.db")).await.unwrap();
            let engine = Engine::start(phone.clone(), store.clone(), EngineOptions::new(&data_dir));
            (store, engine)
        });
        let state = wa_app::Services {
            store: store.clone(),
            engine: engine.clone(),
            data_dir,
            demo: demo.then(|| phone.clone()),
            approvals: Arc::new(wa_mcp::Approvals::new()),
            helper: dir.path().join("whatsapp-mcp"),
        };
        let builder = extend(wa_desktop::with_commands(mock_builder()).manage(state));
        let app = builder.build(wa_desktop::context()).unwrap();
        let window = main_window(&app);
        Self {
            app,
            window,
            phone,
            engine,
            store,
            dir,
        }
    }

    /// Call a command as the window does; `Err` carries the message the window shows.
    pub fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        invoke(&self.window, cmd, args)
    }

    /// Poll `app_status` until `done` holds (or fail after `secs`).
    pub fn wait_status(&self, secs: u64, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let status = self.invoke("app_status", serde_json::json!({})).unwrap();
            if done(&status) {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}: {status:#}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The app's main window (made when the configuration does not make it).
pub fn main_window(app: &App<MockRuntime>) -> WebviewWindow<MockRuntime> {
    match app.get_webview_window("main") {
        Some(window) => window,
        None => tauri::WebviewWindowBuilder::new(app, "main", tauri::WebviewUrl::default())
            .build()
            .unwrap(),
    }
}

/// Call a command on `window` as the web view does; `Err` carries the message it shows.
pub fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: tauri::ipc::CallbackFn(0),
        error: tauri::ipc::CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: tauri::ipc::InvokeBody::Json(args),
        headers: tauri::http::HeaderMap::default(),
        invoke_key: tauri::test::INVOKE_KEY.to_string(),
    };
    tauri::test::get_ipc_response(window, request).map(|body| body.deserialize::<Value>().unwrap())
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let (engine, store) = (self.engine.clone(), self.store.clone());
        RUNTIME.block_on(async move {
            engine.shutdown().await;
            store.close().await;
        });
    }
}
