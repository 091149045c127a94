//! Sends on the simulated account: each reaches the phone and the archive.

use wa_corpus::Config;
use wa_store::{ChatKind, Jid, MessageKind};

use crate::send::Outgoing;
use crate::sim::account::SimConfig;
use crate::test_support::{expected_messages, synced};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_reach_the_phone_and_the_archive() {
    let (dir, account, engine) = synced(Config::small(), SimConfig::default()).await;
    let store = engine.store().clone();
    let corpus = account.corpus();
    let direct = corpus
        .chats
        .iter()
        .find(|c| c.kind == ChatKind::Direct)
        .expect("a direct chat")
        .jid
        .clone();
    let target = expected_messages(corpus)
        .into_iter()
        .find(|m| m.chat_jid == direct && m.kind == MessageKind::Text)
        .expect("a message to answer");
    // An address that is not one cannot reach `send` at all: it is a `Jid`.
    let to: Jid = direct.parse().expect("a chat address");

    let text = engine
        .send(Outgoing::Text {
            chat_jid: to.clone(),
            text: "On my way 🚲".into(),
            reply_to: None,
            mentions: Vec::new(),
        })
        .await
        .expect("text");
    let reply = engine
        .send(Outgoing::Text {
            chat_jid: to.clone(),
            text: "Yes, this one".into(),
            reply_to: Some(target.key()),
            mentions: vec![to.clone()],
        })
        .await
        .expect("reply");
    engine
        .send(Outgoing::Reaction {
            target: target.key(),
            emoji: "👍".into(),
        })
        .await
        .expect("reaction");
    let photo_path = dir.path().join("holiday photo.png");
    std::fs::write(&photo_path, b"\x89PNG\r\n\x1a\nnot really a png, but bytes").expect("write");
    let photo = engine
        .send(Outgoing::File {
            chat_jid: to.clone(),
            path: photo_path,
            caption: Some("the beach".into()),
            reply_to: None,
        })
        .await
        .expect("photo");
    let voice_path = dir.path().join("note.ogg");
    let mut voice = b"OggS\0\x02".to_vec();
    voice.extend_from_slice(&[0; 20]);
    voice.extend_from_slice(b"OpusHead\x01\x01");
    voice.extend_from_slice(&[7; 200]);
    std::fs::write(&voice_path, &voice).expect("write");
    engine
        .send(Outgoing::VoiceNote {
            chat_jid: to.clone(),
            path: voice_path,
            reply_to: None,
        })
        .await
        .expect("voice");
    let not_voice = dir.path().join("song.mp3");
    std::fs::write(&not_voice, b"ID3 not opus").expect("write");
    let refused = engine
        .send(Outgoing::VoiceNote {
            chat_jid: to.clone(),
            path: not_voice,
            reply_to: None,
        })
        .await
        .expect_err("not Ogg/Opus");
    assert!(refused.to_string().contains("Ogg/Opus"), "{refused}");

    // What the phone received.
    let sent = account.sent();
    assert_eq!(sent.len(), 5, "refused sends never left");
    assert_eq!(sent[0].message.conversation.as_deref(), Some("On my way 🚲"));
    let quoted = sent[1].message.extended_text_message.as_option().expect("a reply");
    let user = direct.split('@').next().expect("user");
    assert_eq!(
        quoted.text.clone(),
        Some(format!("Yes, this one @{user}")),
        "the mention is written into the text"
    );
    let ctx = quoted.context_info.as_option().expect("context");
    assert_eq!(ctx.stanza_id.as_deref(), Some(target.msg_id.as_str()));
    assert_eq!(
        ctx.mentioned_jid,
        vec![direct.clone()],
        "and listed, so WhatsApp links it"
    );
    let reaction = sent[2].message.reaction_message.as_option().expect("a reaction");
    assert_eq!(reaction.text.as_deref(), Some("👍"));
    let image = sent[3].message.image_message.as_option().expect("an image");
    assert_eq!(image.caption.as_deref(), Some("the beach"));
    assert_eq!(image.mimetype.as_deref(), Some("image/png"));
    let uploaded = account
        .file(image.direct_path.as_deref().expect("path"))
        .expect("uploaded");
    assert!(uploaded.starts_with(b"\x89PNG"));
    let audio = sent[4].message.audio_message.as_option().expect("a voice note");
    assert_eq!(audio.ptt, Some(true));

    // And the archive has them, as sent by us.
    let stored = store.get_message(&text.key).await.expect("read").expect("stored");
    assert!(stored.from_me);
    assert_eq!(stored.text.as_deref(), Some("On my way 🚲"));
    let stored_reply = store.get_message(&reply.key).await.expect("read").expect("stored");
    assert_eq!(stored_reply.quoted.map(|q| q.msg_id), Some(target.msg_id.clone()));
    let reactions = store.reactions(&target.key()).await.expect("reactions");
    assert!(
        reactions
            .iter()
            .any(|r| r.emoji == "👍" && r.reactor_jid == corpus.own_jid)
    );
    let stored_photo = store.get_message(&photo.key).await.expect("read").expect("stored");
    assert_eq!(stored_photo.kind, MessageKind::Image);
    // A sent file downloads back intact.
    let back = engine.download_media(&photo.key).await.expect("download");
    assert_eq!(std::fs::read(back.path).expect("file"), uploaded);
}
