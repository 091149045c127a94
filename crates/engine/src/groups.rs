//! Group and community metadata as store items.
//!
//! After each connection the engine asks for every group the account is in
//! (`groups().get_participating()` on the real client) and stores each one's
//! name, description, community link and complete member list; a group
//! notification (someone joined, the name changed, ...) refreshes them.

use wa_store::{ChatKind, ChatUpdate, ContactUpdate, Item, MemberRole};
use whatsapp_rust::features::{GroupMetadata, ParticipantType};

use crate::clock::now_ms;
use crate::engine::{Engine, lock};

/// The items one group's metadata stands for, as of `at` (ms).
pub fn items_from_group(group: &GroupMetadata, at: i64) -> Vec<Item> {
    let jid = group.id.to_non_ad_string();
    let kind = if group.is_parent_group {
        ChatKind::Community
    } else {
        ChatKind::Group
    };
    let mut items = vec![Item::Chat(ChatUpdate {
        jid: jid.clone(),
        at,
        kind: Some(kind),
        name: Some(group.subject.clone()).filter(|s| !s.is_empty()),
        description: group.description.clone().filter(|d| !d.is_empty()),
        parent_jid: group
            .parent_group_jid
            .as_ref()
            .map(whatsapp_rust::Jid::to_non_ad_string),
        ..ChatUpdate::default()
    })];
    let mut members = Vec::with_capacity(group.participants.len());
    for p in &group.participants {
        // Groups in LID addressing name members by LID; the phone-number JID is
        // what the rest of the archive uses, so prefer it and record the pair.
        let person = p.phone_number.as_ref().unwrap_or(&p.jid).to_non_ad_string();
        if let Some(lid) = p.lid.as_ref().or(p.jid.is_lid().then_some(&p.jid))
            && p.phone_number.is_some()
        {
            items.push(Item::Contact(ContactUpdate {
                jid: person.clone(),
                at,
                lid: Some(lid.to_non_ad_string()),
                ..ContactUpdate::default()
            }));
        }
        let role = match p.participant_type {
            ParticipantType::SuperAdmin => MemberRole::SuperAdmin,
            ParticipantType::Admin => MemberRole::Admin,
            ParticipantType::Member => MemberRole::Member,
        };
        members.push((person, role));
    }
    items.push(Item::Members {
        group_jid: jid,
        members,
    });
    items
}

impl Engine {
    /// Store every group's name, community and members (after connecting, and
    /// when a group notification says something changed). One refresh at a time;
    /// notifications arriving during one are covered by a single follow-up.
    pub(crate) fn refresh_groups(&self) {
        {
            let mut pending = lock(&self.inner.groups_refresh);
            *pending += 1;
            if *pending > 1 {
                return;
            }
        }
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                match engine.inner.port.groups().await {
                    Ok(groups) => {
                        let now = now_ms();
                        let items: Vec<Item> = groups.iter().flat_map(|g| items_from_group(g, now)).collect();
                        if let Err(e) = engine.inner.store.apply(&items).await {
                            tracing::warn!(error = %e, "could not store group details");
                        }
                    }
                    Err(e) => tracing::info!(error = %e, "group details not available now"),
                }
                let mut pending = lock(&engine.inner.groups_refresh);
                if *pending > 1 {
                    *pending = 1;
                } else {
                    *pending = 0;
                    return;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use wa_corpus::Config;
    use whatsapp_rust::Jid;
    use whatsapp_rust::features::{GroupMetadata, GroupParticipant, ParticipantType};

    use super::*;
    use crate::sim::account::SimConfig;
    use crate::test_support::synced;

    fn participant(jid: Jid, phone: Option<Jid>, kind: ParticipantType) -> GroupParticipant {
        GroupParticipant {
            jid,
            phone_number: phone,
            lid: None,
            username: None,
            participant_type: kind,
            details: None,
        }
    }

    #[test]
    fn a_community_group_with_lid_members_maps_to_chat_members_and_contacts() {
        let group = GroupMetadata {
            id: "120363000000000009@g.us".parse().expect("jid"),
            subject: "Parents of class 3B".into(),
            description: Some("Dates, lifts and lost jumpers".into()),
            parent_group_jid: Some("120363000000000001@g.us".parse().expect("jid")),
            participants: vec![
                participant(
                    Jid::lid("200000000000001"),
                    Some(Jid::pn("34600111222")),
                    ParticipantType::SuperAdmin,
                ),
                participant(Jid::pn("447700900123"), None, ParticipantType::Member),
            ],
            ..GroupMetadata::default()
        };
        let items = items_from_group(&group, 5);
        let Item::Chat(chat) = &items[0] else {
            panic!("{items:?}")
        };
        assert_eq!(chat.kind, Some(ChatKind::Group));
        assert_eq!(chat.name.as_deref(), Some("Parents of class 3B"));
        assert_eq!(chat.parent_jid.as_deref(), Some("120363000000000001@g.us"));
        assert!(items.iter().any(|i| matches!(i, Item::Contact(c)
            if c.jid == "34600111222@s.whatsapp.net" && c.lid.as_deref() == Some("200000000000001@lid"))));
        let Some(Item::Members { members, .. }) = items.last() else {
            panic!("{items:?}")
        };
        assert_eq!(
            members,
            &vec![
                ("34600111222@s.whatsapp.net".to_owned(), MemberRole::SuperAdmin),
                ("447700900123@s.whatsapp.net".to_owned(), MemberRole::Member),
            ]
        );

        let community = GroupMetadata {
            id: "120363000000000001@g.us".parse().expect("jid"),
            is_parent_group: true,
            ..GroupMetadata::default()
        };
        let Item::Chat(chat) = &items_from_group(&community, 5)[0] else {
            panic!()
        };
        assert_eq!((chat.kind, chat.name.as_deref()), (Some(ChatKind::Community), None));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn groups_communities_and_members_are_stored_after_connecting() {
        let (_dir, account, engine) = synced(Config::small(), SimConfig::default()).await;
        let store = engine.store().clone();
        let metadata = account.corpus().metadata_items();
        let mut checked = 0;
        for item in &metadata {
            let Item::Members { group_jid, members } = item else {
                continue;
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut stored = loop {
                let now = store.group_members(group_jid).await.expect("members");
                if !now.is_empty() || Instant::now() > deadline {
                    break now;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            let mut expected = members.clone();
            expected.sort_by(|a, b| a.0.cmp(&b.0));
            let mut got: Vec<(String, wa_store::MemberRole)> = stored.drain(..).map(|(c, r)| (c.jid, r)).collect();
            got.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(got, expected, "members of {group_jid}");
            checked += 1;
        }
        assert!(checked >= 3, "the corpus has groups: {checked}");
        let community = account
            .corpus()
            .chats
            .iter()
            .find(|c| c.kind == ChatKind::Community)
            .expect("a community");
        let sub = account
            .corpus()
            .chats
            .iter()
            .find(|c| c.parent.as_deref() == Some(community.jid.as_str()))
            .expect("a sub-group");
        let stored_sub = store.get_chat(&sub.jid).await.expect("chat").expect("stored");
        assert_eq!(stored_sub.parent_jid.as_deref(), Some(community.jid.as_str()));
        let stored_community = store.get_chat(&community.jid).await.expect("chat").expect("stored");
        assert_eq!(stored_community.kind, ChatKind::Community);
    }
}
