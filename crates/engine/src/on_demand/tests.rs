//! Asking the phone on the simulated account: rate limits back off, and a
//! phone that does not answer pauses the job in words.

use std::time::{Duration, Instant};

use wa_corpus::Config;
use wa_store::JobState;

use crate::jobs::SyncRequest;
use crate::sim::account::SimConfig;
use crate::sync::JobCommand;
use crate::test_support::{synced, wait_job};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_back_off_and_an_offline_phone_pauses_the_job_in_words() {
    let sim = SimConfig {
        initial_per_chat: Some(5),
        ..SimConfig::default()
    };
    let (_dir, account, engine) = synced(Config::small(), sim).await;
    let chat = account.corpus().chats[1].jid.clone();

    account.rate_limit_next_requests(3);
    let job = engine
        .start_sync(SyncRequest::Chat {
            jid: chat.parse().expect("a chat address"),
            count: 30,
        })
        .await
        .expect("job");
    let started = Instant::now();
    let done = wait_job(&engine, job.id, "the job", |j| j.state.is_finished()).await;
    assert_eq!(done.state, JobState::Done, "{done:?}");
    assert!(done.messages_done > 0);
    // Three refusals answered with 20, 40, 80 ms of backoff (±20%), never a tight loop.
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );

    account.set_phone_online(false);
    let job = engine
        .start_sync(SyncRequest::Chat {
            jid: account.corpus().chats[2].jid.parse().expect("a chat address"),
            count: 30,
        })
        .await
        .expect("job");
    let paused = wait_job(&engine, job.id, "paused", |j| j.state == JobState::Paused).await;
    let why = paused.last_error.expect("a reason");
    assert!(why.contains("phone did not answer"), "{why}");
    account.set_phone_online(true);
    engine.control_job(job.id, JobCommand::Resume).await.expect("resume");
    let done = wait_job(&engine, job.id, "resumed", |j| j.state.is_finished()).await;
    assert_eq!(done.state, JobState::Done, "{done:?}");
    assert!(done.messages_done > 0);
}
