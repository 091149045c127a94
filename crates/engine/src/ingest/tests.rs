//! Real protobuf messages of every kind, mapped to store items and stored.

use wa::message as m;
use whatsapp_rust::buffa::MessageField;
use whatsapp_rust::waproto::whatsapp as wa;

use super::{Envelope, items_from_message};
use wa_store::{Item, MessageKey, MessageKind};

use crate::test_support::{ANA, GROUP, ME, key};

fn env(id: &'static str) -> Envelope<'static> {
    Envelope {
        chat_jid: GROUP,
        msg_id: id,
        sender_jid: ANA,
        from_me: false,
        ts: 1_700_000_000_000,
        push_name: Some("Ana"),
        own_jid: ME,
    }
}

fn one_message(message: &wa::Message) -> wa_store::NewMessage {
    match items_from_message(&env("M1"), message).as_slice() {
        [Item::Message(m)] => m.clone(),
        other => panic!("expected one message, got {other:?}"),
    }
}

fn wrap(inner: wa::Message) -> MessageField<m::FutureProofMessage> {
    MessageField::some(m::FutureProofMessage {
        message: MessageField::some(inner),
    })
}

#[test]
fn plain_and_extended_text() {
    let plain = one_message(&wa::Message {
        conversation: Some("hola".into()),
        ..Default::default()
    });
    assert_eq!((plain.kind, plain.text.as_deref()), (MessageKind::Text, Some("hola")));
    assert_eq!(plain.push_name.as_deref(), Some("Ana"));

    let reply = one_message(&wa::Message {
        extended_text_message: MessageField::some(m::ExtendedTextMessage {
            text: Some("yes, see you there @34600999888".into()),
            context_info: MessageField::some(wa::ContextInfo {
                stanza_id: Some("Q1".into()),
                participant: Some(ME.into()),
                mentioned_jid: vec!["34600999888@s.whatsapp.net".into()],
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!(reply.text.as_deref(), Some("yes, see you there @34600999888"));
    assert_eq!(
        reply.quoted,
        Some(MessageKey {
            chat_jid: GROUP.into(),
            msg_id: "Q1".into(),
            sender_jid: ME.into()
        })
    );
    assert_eq!(
        reply.extra,
        Some(serde_json::json!({ "mentions": ["34600999888@s.whatsapp.net"] }))
    );
}

#[test]
fn media_messages_keep_caption_and_download_fields() {
    let image = one_message(&wa::Message {
        image_message: MessageField::some(m::ImageMessage {
            caption: Some("beach".into()),
            mimetype: Some("image/jpeg".into()),
            direct_path: Some("/v/t62.7118-24/1_n.enc".into()),
            media_key: Some(vec![7; 32]),
            file_sha256: Some(vec![1; 32]),
            file_enc_sha256: Some(vec![2; 32]),
            file_length: Some(123_456),
            width: Some(1280),
            height: Some(960),
            media_key_timestamp: Some(1_700_000_000),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!((image.kind, image.text.as_deref()), (MessageKind::Image, Some("beach")));
    let media = image.media.expect("media");
    assert_eq!(media.direct_path.as_deref(), Some("/v/t62.7118-24/1_n.enc"));
    assert_eq!(media.media_key.as_deref(), Some(&[7u8; 32][..]));
    assert_eq!(
        (media.file_length, media.width, media.height),
        (Some(123_456), Some(1280), Some(960))
    );

    let voice = one_message(&wa::Message {
        audio_message: MessageField::some(m::AudioMessage {
            ptt: Some(true),
            seconds: Some(12),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!(voice.kind, MessageKind::Voice);
    assert_eq!(voice.media.expect("media").duration_secs, Some(12));
    let song = one_message(&wa::Message {
        audio_message: MessageField::some(m::AudioMessage {
            ptt: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!(song.kind, MessageKind::Audio);

    let video = one_message(&wa::Message {
        video_message: MessageField::some(m::VideoMessage {
            caption: Some("goal!".into()),
            seconds: Some(9),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!((video.kind, video.text.as_deref()), (MessageKind::Video, Some("goal!")));

    // A document with a caption arrives wrapped.
    let document = one_message(&wa::Message {
        document_with_caption_message: wrap(wa::Message {
            document_message: MessageField::some(m::DocumentMessage {
                file_name: Some("invoice.pdf".into()),
                caption: Some("March invoice".into()),
                mimetype: Some("application/pdf".into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!(
        (document.kind, document.text.as_deref()),
        (MessageKind::Document, Some("March invoice"))
    );
    assert_eq!(document.media.expect("media").file_name.as_deref(), Some("invoice.pdf"));

    let sticker = one_message(&wa::Message {
        sticker_message: MessageField::some(m::StickerMessage {
            mimetype: Some("image/webp".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!(sticker.kind, MessageKind::Sticker);
    assert!(sticker.media.is_some());
}

#[test]
fn location_contact_and_poll() {
    let place = one_message(&wa::Message {
        location_message: MessageField::some(m::LocationMessage {
            degrees_latitude: Some(40.4168),
            degrees_longitude: Some(-3.7038),
            name: Some("Puerta del Sol".into()),
            address: Some("Madrid".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!(
        (place.kind, place.text.as_deref()),
        (MessageKind::Location, Some("Puerta del Sol, Madrid"))
    );
    assert_eq!(place.extra.as_ref().and_then(|e| e["latitude"].as_f64()), Some(40.4168));

    let card = one_message(&wa::Message {
        contact_message: MessageField::some(m::ContactMessage {
            display_name: Some("Dr. Silva".into()),
            vcard: Some("BEGIN:VCARD\nFN:Dr. Silva\nEND:VCARD".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!(
        (card.kind, card.text.as_deref()),
        (MessageKind::Contact, Some("Dr. Silva"))
    );
    assert!(
        card.extra.expect("extra")["vcard"]
            .as_str()
            .is_some_and(|v| v.contains("FN:Dr. Silva"))
    );

    let poll = one_message(&wa::Message {
        poll_creation_message_v3: MessageField::some(m::PollCreationMessage {
            name: Some("Dinner where?".into()),
            options: ["Pizza", "Sushi"]
                .iter()
                .map(|o| m::poll_creation_message::Option {
                    option_name: Some((*o).into()),
                    ..Default::default()
                })
                .collect(),
            selectable_options_count: Some(1),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!(
        (poll.kind, poll.text.as_deref()),
        (MessageKind::Poll, Some("Dinner where?"))
    );
    assert_eq!(
        poll.extra.expect("extra")["options"],
        serde_json::json!(["Pizza", "Sushi"])
    );
}

#[test]
fn ephemeral_and_view_once_wrappers_are_unwrapped() {
    let inner = wa::Message {
        conversation: Some("disappears".into()),
        ..Default::default()
    };
    for message in [
        wa::Message {
            ephemeral_message: wrap(inner.clone()),
            ..Default::default()
        },
        wa::Message {
            view_once_message_v2: wrap(inner.clone()),
            ..Default::default()
        },
        wa::Message {
            ephemeral_message: wrap(wa::Message {
                view_once_message: wrap(inner.clone()),
                ..Default::default()
            }),
            ..Default::default()
        },
    ] {
        assert_eq!(one_message(&message).text.as_deref(), Some("disappears"));
    }
}

#[test]
fn edits_revokes_and_reactions_point_at_their_target() {
    let edit = wa::Message {
        protocol_message: MessageField::some(m::ProtocolMessage {
            key: key("T1", false, Some(ANA)),
            r#type: Some(m::protocol_message::Type::MESSAGE_EDIT),
            edited_message: MessageField::some(wa::Message {
                conversation: Some("fixed typo".into()),
                ..Default::default()
            }),
            timestamp_ms: Some(1_700_000_100_000),
            ..Default::default()
        }),
        ..Default::default()
    };
    // Newer clients wrap the edit in `editedMessage`: same result.
    let wrapped_edit = wa::Message {
        edited_message: wrap(edit.clone()),
        ..Default::default()
    };
    for message in [edit, wrapped_edit] {
        match items_from_message(&env("E1"), &message).as_slice() {
            [
                Item::Edit {
                    target,
                    change_id,
                    at,
                    text,
                },
            ] => {
                assert_eq!(
                    target,
                    &MessageKey {
                        chat_jid: GROUP.into(),
                        msg_id: "T1".into(),
                        sender_jid: ANA.into()
                    }
                );
                assert_eq!(
                    (change_id.as_str(), *at, text.as_str()),
                    ("E1", 1_700_000_100_000, "fixed typo")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    let revoke = wa::Message {
        protocol_message: MessageField::some(m::ProtocolMessage {
            key: key("T2", true, None),
            r#type: Some(m::protocol_message::Type::REVOKE),
            ..Default::default()
        }),
        ..Default::default()
    };
    match items_from_message(&env("R1"), &revoke).as_slice() {
        [Item::Revoke { target, by_jid, .. }] => {
            // The key is Ana's: `from_me` means "sent by Ana".
            assert_eq!(
                target.sender_jid, ANA,
                "from_me keys point at the author's own messages"
            );
            assert_eq!(by_jid, ANA);
        }
        other => panic!("{other:?}"),
    }

    let reaction = wa::Message {
        reaction_message: MessageField::some(m::ReactionMessage {
            key: key("T3", false, Some(ANA)),
            text: Some("❤️".into()),
            sender_timestamp_ms: Some(1_700_000_200_000),
            ..Default::default()
        }),
        ..Default::default()
    };
    match items_from_message(&env("X1"), &reaction).as_slice() {
        [
            Item::Reaction {
                target,
                reactor_jid,
                emoji,
                at,
            },
        ] => {
            assert_eq!(target.msg_id, "T3");
            assert_eq!(
                (reactor_jid.as_str(), emoji.as_str(), *at),
                (ANA, "❤️", 1_700_000_200_000)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn protocol_traffic_is_not_stored() {
    let key_share = wa::Message {
        protocol_message: MessageField::some(m::ProtocolMessage {
            key: key("K", false, None),
            r#type: Some(m::protocol_message::Type::APP_STATE_SYNC_KEY_SHARE),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(items_from_message(&env("P1"), &key_share).is_empty());
    let distribution_only = wa::Message {
        sender_key_distribution_message: MessageField::some(m::SenderKeyDistributionMessage::default()),
        ..Default::default()
    };
    assert!(items_from_message(&env("P2"), &distribution_only).is_empty());
    // A reaction without a target key cannot be stored anywhere.
    let orphan = wa::Message {
        reaction_message: MessageField::some(m::ReactionMessage::default()),
        ..Default::default()
    };
    assert!(items_from_message(&env("P3"), &orphan).is_empty());
    // Content we do not understand yet is kept, so nothing silently disappears.
    let unknown = wa::Message {
        call: MessageField::some(m::Call::default()),
        ..Default::default()
    };
    assert_eq!(one_message(&unknown).kind, MessageKind::Unknown);
}

#[tokio::test]
async fn mapped_items_land_in_the_store() {
    let dir = tempfile::tempdir().expect("dir");
    let store = wa_store::Store::open(dir.path().join("messages.db"))
        .await
        .expect("store");
    let original = wa::Message {
        conversation: Some("see you at 9".into()),
        ..Default::default()
    };
    let edit = wa::Message {
        protocol_message: MessageField::some(m::ProtocolMessage {
            key: key("M1", false, Some(ANA)),
            r#type: Some(m::protocol_message::Type::MESSAGE_EDIT),
            edited_message: MessageField::some(wa::Message {
                conversation: Some("see you at 10".into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut items = items_from_message(&env("M1"), &original);
    items.extend(items_from_message(&env("E9"), &edit));
    let report = store.apply(&items).await.expect("apply");
    assert_eq!((report.inserted, report.changes_applied), (1, 1));
    let stored = store
        .get_message(&MessageKey {
            chat_jid: GROUP.into(),
            msg_id: "M1".into(),
            sender_jid: ANA.into(),
        })
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(stored.text.as_deref(), Some("see you at 10"));
    assert_eq!(stored.original_text.as_deref(), Some("see you at 9"));
    assert_eq!(stored.sender_name.as_deref(), Some("Ana"));
}

/// In a direct chat, keys are written by the author of the change: Ana's
/// phone names the chat by our JID and marks our message "not from me".
#[test]
fn direct_chat_keys_are_read_from_the_authors_point_of_view() {
    let from_ana = Envelope {
        chat_jid: ANA,
        msg_id: "X",
        sender_jid: ANA,
        from_me: false,
        ts: 1_700_000_000_000,
        push_name: Some("Ana"),
        own_jid: ME,
    };
    let ours = Envelope {
        sender_jid: ME,
        from_me: true,
        push_name: None,
        ..from_ana
    };
    let dm_key = |remote: &str, from_me: bool| {
        MessageField::some(wa::MessageKey {
            remote_jid: Some(remote.into()),
            from_me: Some(from_me),
            id: Some("T".into()),
            participant: None,
        })
    };
    let reaction = |key| wa::Message {
        reaction_message: MessageField::some(m::ReactionMessage {
            key,
            text: Some("👍".into()),
            sender_timestamp_ms: Some(1),
            ..Default::default()
        }),
        ..Default::default()
    };
    let target = |env: &Envelope<'_>, message: &wa::Message| match items_from_message(env, message).as_slice() {
        [Item::Reaction { target, .. }] => (target.chat_jid.clone(), target.sender_jid.clone()),
        other => panic!("{other:?}"),
    };
    // Ana reacts to our message, and to her own.
    assert_eq!(target(&from_ana, &reaction(dm_key(ME, false))), (ANA.into(), ME.into()));
    assert_eq!(target(&from_ana, &reaction(dm_key(ME, true))), (ANA.into(), ANA.into()));
    // We react (from our phone) to Ana's message, and to ours.
    assert_eq!(target(&ours, &reaction(dm_key(ANA, false))), (ANA.into(), ANA.into()));
    assert_eq!(target(&ours, &reaction(dm_key(ANA, true))), (ANA.into(), ME.into()));
}
