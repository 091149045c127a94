//! Engine benchmark: `cargo bench -p wa-engine --bench sync` (BENCH_MESSAGES
//! changes the size; 50,000 by default, the phone-sized corpus).
//!
//! In one process: a whole history sync through the engine (the simulated
//! phone's zlib `HistorySync` chunks, decoded on a blocking thread, mapped and
//! stored) beside the store's raw ingest of the same messages (already mapped,
//! one `apply` per chunk), and the peak memory of each. Prints a Markdown report.

use std::time::{Duration, Instant};

use wa_corpus::{Config, Corpus};
use wa_engine::sim::account::{SimConfig, SimulatedAccount};
use wa_engine::{Engine, EngineOptions};
use wa_store::{Item, Store};

const TARGET_PEAK_MB: f64 = 300.0;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result {
    let messages: usize = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let config = Config {
        messages,
        chats: (messages / 250).clamp(20, 2_000),
        ..Config::phone()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(config))
}

fn rss_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn reset_peak_rss() {
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn run(config: Config) -> Result {
    let dir = tempfile::tempdir()?;
    let total = Corpus::new(config).messages().count();
    println!("# Engine benchmark: {total} messages in {} chats\n", config.chats);

    // Through the engine: link, then the phone's whole history push.
    reset_peak_rss();
    let before = rss_mb("VmRSS:");
    let store = Store::open(dir.path().join("engine.db")).await?;
    let sim = SimConfig {
        conversations_per_chunk: 10,
        ..SimConfig::default()
    };
    let account = SimulatedAccount::linked(Corpus::new(config), sim);
    let engine = Engine::start(account.clone(), store.clone(), EngineOptions::new(dir.path()));
    let mut state = engine.state();
    state
        .wait_for(|s| matches!(s, wa_engine::EngineState::Connected { .. }))
        .await?;
    let mut progress = engine.progress();
    let started = Instant::now();
    account.push_history();
    tokio::time::timeout(
        Duration::from_mins(30),
        progress.wait_for(|p| p.messages as usize >= total),
    )
    .await??;
    let engine_secs = started.elapsed().as_secs_f64();
    let engine_peak = rss_mb("VmHWM:");
    let stored = store.statistics().await?.messages as usize;
    engine.shutdown().await;
    store.close().await;
    drop(engine);

    // Baseline: the store alone, the same messages already mapped, chunk by chunk.
    reset_peak_rss();
    let corpus = Corpus::new(config);
    let chunks: Vec<Vec<Item>> = (0..corpus.chats.len())
        .collect::<Vec<_>>()
        .chunks(10)
        .map(|chats| chats.iter().flat_map(|&c| corpus.chat_items(c)).collect())
        .collect();
    let raw = Store::open(dir.path().join("raw.db")).await?;
    let started = Instant::now();
    for chunk in &chunks {
        raw.apply(chunk).await?;
    }
    let raw_secs = started.elapsed().as_secs_f64();
    let raw_peak = rss_mb("VmHWM:");
    raw.close().await;

    let engine_rate = total as f64 / engine_secs;
    let raw_rate = total as f64 / raw_secs;
    println!("| Path | Messages | Seconds | Messages/s | Peak RSS (MB) |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| History sync through the engine (zlib chunks, decode, map, store) | {stored} | {engine_secs:.2} | {engine_rate:.0} | {engine_peak:.0} |"
    );
    println!("| Store ingest of the same items (baseline) | {total} | {raw_secs:.2} | {raw_rate:.0} | {raw_peak:.0} |");
    println!(
        "\nEngine overhead over the store: {:.0}% of the raw rate. RSS before the run: {before:.0} MB.",
        engine_rate / raw_rate * 100.0
    );
    let verdict = if engine_peak <= TARGET_PEAK_MB { "met" } else { "MISSED" };
    println!("Peak memory during the sync: {engine_peak:.0} MB (target <= {TARGET_PEAK_MB:.0} MB: {verdict}).");
    if stored != total {
        return Err(format!("the engine stored {stored} of {total} messages").into());
    }
    Ok(())
}
