//! A deterministic, seeded generator of realistic WhatsApp-like data.
//!
//! The same [`Config`] always gives the same contacts, chats and messages, on
//! every machine, so tests, benchmarks, the simulated phone and the demo share
//! one corpus. Shape: direct chats, groups (up to 500 members) and communities
//! with sub-groups; message counts per chat follow a power law (a few very busy
//! chats); times come in bursts with quiet weeks; text in English, Spanish,
//! Portuguese, Hindi, Arabic and Chinese with emoji; about 15% media; replies,
//! reactions, edits and revokes.
//!
//! Chats are generated independently (each from its own seed), so one chat's
//! messages can be produced without the others: what a phone answering an
//! on-demand history request needs.

mod words;

use wa_store::{ChatKind, ChatUpdate, ContactUpdate, Item, MediaInfo, MemberRole, MessageKey, MessageKind, NewMessage};

/// Languages of the corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    Es,
    Pt,
    Hi,
    Ar,
    Zh,
}

impl Lang {
    const ALL: [Lang; 6] = [Lang::En, Lang::Es, Lang::Pt, Lang::Hi, Lang::Ar, Lang::Zh];
    /// Share of chats per language, in per cent.
    const WEIGHTS: [u32; 6] = [36, 20, 15, 11, 9, 9];

    fn country_code(self) -> &'static str {
        match self {
            Lang::En => "44",
            Lang::Es => "34",
            Lang::Pt => "55",
            Lang::Hi => "91",
            Lang::Ar => "971",
            Lang::Zh => "86",
        }
    }

    /// Every word the generator may write in this language.
    pub fn vocabulary(self) -> &'static [&'static str] {
        words::vocabulary(self)
    }
}

/// Emoji the generator uses.
pub fn emoji() -> &'static [&'static str] {
    words::EMOJI
}

/// Size and seed of a corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    pub seed: u64,
    pub chats: usize,
    pub messages: usize,
    /// Time of the first message (ms since the epoch).
    pub start_ms: i64,
    /// Time of the last message, roughly (ms since the epoch).
    pub end_ms: i64,
}

/// 2024-01-01T00:00:00Z.
const START: i64 = 1_704_067_200_000;
const DAY: i64 = 86_400_000;

impl Config {
    /// The benchmark corpus: 2,000 chats, 1,000,000 messages over three years.
    pub fn benchmark() -> Self {
        Self {
            seed: 0x5EED_0001,
            chats: 2_000,
            messages: 1_000_000,
            start_ms: START,
            end_ms: START + 3 * 365 * DAY,
        }
    }

    /// The engine's simulated phone: 200 chats, 50,000 messages.
    pub fn phone() -> Self {
        Self {
            chats: 200,
            messages: 50_000,
            ..Self::benchmark()
        }
    }

    /// Small enough for unit tests.
    pub fn small() -> Self {
        Self {
            chats: 30,
            messages: 3_000,
            ..Self::benchmark()
        }
    }
}

/// One planned chat.
#[derive(Debug, Clone)]
pub struct ChatPlan {
    pub jid: String,
    pub kind: ChatKind,
    pub name: Option<String>,
    pub parent: Option<String>,
    pub lang: Lang,
    /// Indexes into [`Corpus::contacts`] of the people who write here (for a
    /// direct chat, the other person).
    pub members: Vec<usize>,
    /// How many messages this chat has.
    pub messages: usize,
    seed: u64,
}

/// A generated corpus: people and chats up front, messages on demand.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub config: Config,
    pub own_jid: String,
    pub contacts: Vec<ContactUpdate>,
    pub chats: Vec<ChatPlan>,
}

fn zipf_index(rng: &mut fastrand::Rng, len: usize, skew: f64) -> usize {
    // Inverse transform of a continuous power law over ranks 1..=len.
    let u = rng.f64();
    let max = (len as f64).powf(1.0 - skew);
    let rank = (u * (max - 1.0) + 1.0).powf(1.0 / (1.0 - skew));
    (rank as usize).saturating_sub(1).min(len - 1)
}

fn pick_weighted<T: Copy>(rng: &mut fastrand::Rng, items: &[T], weights: &[u32]) -> T {
    let total: u32 = weights.iter().sum();
    let mut roll = rng.u32(0..total);
    for (item, weight) in items.iter().zip(weights) {
        if roll < *weight {
            return *item;
        }
        roll -= weight;
    }
    items[items.len() - 1]
}

impl Corpus {
    /// Plan a corpus: contacts, chats and how many messages each chat gets.
    pub fn new(config: Config) -> Self {
        let mut rng = fastrand::Rng::with_seed(config.seed);
        let own_jid = "447700900000@s.whatsapp.net".to_owned();
        let contact_count = (config.chats * 3 / 2).max(8);
        let contacts: Vec<(ContactUpdate, Lang)> = (0..contact_count).map(|i| person(&mut rng, i)).collect();

        let communities = (config.chats / 50).max(1);
        let groups = config.chats * 22 / 100;
        let mut chats = Vec::with_capacity(config.chats);
        let mut direct_next = 0;
        for index in 0..config.chats {
            let seed = rng.u64(..);
            let plan = if index < communities {
                let name = words::COMMUNITY_NAMES[index % words::COMMUNITY_NAMES.len()].to_owned();
                let size = rng.usize(20..120).min(contact_count);
                let members = sample(&mut rng, contact_count, size);
                let lang = contacts[members[0]].1;
                ChatPlan {
                    jid: format!("1203634{:011}@g.us", 10_000 + index),
                    kind: ChatKind::Community,
                    name: Some(name),
                    parent: None,
                    lang,
                    members,
                    messages: 0,
                    seed,
                }
            } else if index < communities + groups {
                let size = match rng.u32(0..100) {
                    0..=59 => rng.usize(3..15),
                    60..=89 => rng.usize(15..60),
                    90..=97 => rng.usize(60..250),
                    _ => rng.usize(250..=500),
                }
                .min(contact_count);
                let members = sample(&mut rng, contact_count, size);
                let lang = contacts[members[0]].1;
                // One group in four belongs to a community.
                let parent =
                    (rng.u32(0..4) == 0).then(|| format!("1203634{:011}@g.us", 10_000 + rng.usize(0..communities)));
                let base = words::GROUP_NAMES[rng.usize(0..words::GROUP_NAMES.len())];
                ChatPlan {
                    jid: format!("1203635{:011}@g.us", 20_000 + index),
                    kind: ChatKind::Group,
                    name: Some(format!("{base} {}", index % 97)),
                    parent,
                    lang,
                    members,
                    messages: 0,
                    seed,
                }
            } else {
                let who = direct_next % contact_count;
                direct_next += 1;
                ChatPlan {
                    jid: contacts[who].0.jid.clone(),
                    kind: ChatKind::Direct,
                    name: None,
                    parent: None,
                    lang: contacts[who].1,
                    members: vec![who],
                    messages: 0,
                    seed,
                }
            };
            chats.push(plan);
        }
        distribute_messages(&mut rng, &mut chats, config.messages, communities);
        Self {
            config,
            own_jid,
            contacts: contacts.into_iter().map(|(c, _)| c).collect(),
            chats,
        }
    }

    /// Contacts, chats and group members, as store items.
    pub fn metadata_items(&self) -> Vec<Item> {
        let mut items: Vec<Item> = self.contacts.iter().cloned().map(Item::Contact).collect();
        for chat in &self.chats {
            items.push(Item::Chat(ChatUpdate {
                jid: chat.jid.clone(),
                at: self.config.start_ms,
                kind: Some(chat.kind),
                name: chat.name.clone(),
                parent_jid: chat.parent.clone(),
                ..ChatUpdate::default()
            }));
            if chat.kind != ChatKind::Direct {
                let mut members: Vec<(String, MemberRole)> = chat
                    .members
                    .iter()
                    .enumerate()
                    .map(|(i, &m)| {
                        let role = if i == 0 {
                            MemberRole::SuperAdmin
                        } else {
                            MemberRole::Member
                        };
                        (self.contacts[m].jid.clone(), role)
                    })
                    .collect();
                members.push((self.own_jid.clone(), MemberRole::Member));
                items.push(Item::Members {
                    group_jid: chat.jid.clone(),
                    members,
                });
            }
        }
        items
    }

    /// The items of one chat (messages and the changes that follow them), in time order.
    pub fn chat_items(&self, chat: usize) -> ChatStream<'_> {
        let plan = &self.chats[chat];
        let mut rng = fastrand::Rng::with_seed(plan.seed);
        let span = (self.config.end_ms - self.config.start_ms).max(DAY);
        let first = (self.config.start_ms + rng.i64(0..span / 10)) / 1000 * 1000;
        let mean_gap = ((self.config.end_ms - first) / plan.messages.max(1) as i64).max(1000);
        ChatStream {
            corpus: self,
            plan,
            rng,
            emitted: 0,
            ts: first,
            mean_gap,
            recent: Vec::with_capacity(RECENT),
            queued: Vec::new(),
        }
    }

    /// Every item: metadata, then each chat's items.
    pub fn items(&self) -> impl Iterator<Item = Item> + '_ {
        self.metadata_items()
            .into_iter()
            .chain((0..self.chats.len()).flat_map(|c| self.chat_items(c)))
    }

    /// Only the messages, chat after chat.
    pub fn messages(&self) -> impl Iterator<Item = NewMessage> + '_ {
        self.items().filter_map(|item| match item {
            Item::Message(m) => Some(m),
            _ => None,
        })
    }
}

fn person(rng: &mut fastrand::Rng, index: usize) -> (ContactUpdate, Lang) {
    let lang = pick_weighted(rng, &Lang::ALL, &Lang::WEIGHTS);
    let candidates: Vec<&str> = words::FIRST_NAMES
        .iter()
        .filter(|(_, l)| *l == lang)
        .map(|(n, _)| *n)
        .collect();
    let first = candidates[rng.usize(0..candidates.len())];
    let last = words::LAST_NAMES[rng.usize(0..words::LAST_NAMES.len())];
    let phone = format!(
        "{}{:09}",
        lang.country_code(),
        600_000_000 + index as u64 * 7919 % 399_999_999
    );
    let saved = rng.u32(0..100) < 70;
    (
        ContactUpdate {
            jid: format!("{phone}@s.whatsapp.net"),
            at: 1,
            phone: Some(phone),
            saved_name: saved.then(|| format!("{first} {last}")),
            push_name: Some(first.to_owned()),
            business_name: None,
            lid: Some(format!("{}@lid", 100_000_000_000_000u64 + index as u64 * 104_729)),
        },
        lang,
    )
}

/// `count` distinct indexes below `len`.
fn sample(rng: &mut fastrand::Rng, len: usize, count: usize) -> Vec<usize> {
    let mut picked = std::collections::BTreeSet::new();
    while picked.len() < count.min(len) {
        picked.insert(rng.usize(0..len));
    }
    let mut out: Vec<usize> = picked.into_iter().collect();
    rng.shuffle(&mut out);
    out
}

/// Message counts per chat following a power law, summing to `total`.
fn distribute_messages(rng: &mut fastrand::Rng, chats: &mut [ChatPlan], total: usize, communities: usize) {
    let mut order: Vec<usize> = (communities..chats.len()).collect();
    rng.shuffle(&mut order);
    // Community parents carry only their announcement traffic.
    let weights: Vec<f64> = (0..chats.len())
        .map(|i| {
            if i < communities {
                0.3
            } else {
                let rank = order.iter().position(|&c| c == i).unwrap_or(0) + 1;
                1.0 / (rank as f64).powf(0.85)
            }
        })
        .collect();
    let sum: f64 = weights.iter().sum();
    let mut assigned = 0;
    for (chat, weight) in chats.iter_mut().zip(&weights) {
        chat.messages = ((weight / sum) * total as f64).floor().max(1.0) as usize;
        assigned += chat.messages;
    }
    // Hand out the rounding difference one by one, busiest chats first.
    let mut i = 0;
    while assigned != total {
        let chat = &mut chats[order[i % order.len()]];
        if assigned < total {
            chat.messages += 1;
            assigned += 1;
        } else if chat.messages > 1 {
            chat.messages -= 1;
            assigned -= 1;
        }
        i += 1;
    }
}

const RECENT: usize = 64;

/// The items of one chat, generated as they are read.
pub struct ChatStream<'c> {
    corpus: &'c Corpus,
    plan: &'c ChatPlan,
    rng: fastrand::Rng,
    emitted: usize,
    ts: i64,
    mean_gap: i64,
    recent: Vec<(MessageKey, bool)>,
    queued: Vec<Item>,
}

impl Iterator for ChatStream<'_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        if let Some(item) = self.queued.pop() {
            return Some(item);
        }
        if self.emitted >= self.plan.messages {
            return None;
        }
        self.emitted += 1;
        let message = self.message();
        self.follow_ups(&message);
        let key = message.key();
        if self.recent.len() == RECENT {
            self.recent.remove(0);
        }
        self.recent.push((key, message.from_me));
        Some(Item::Message(message))
    }
}

impl ChatStream<'_> {
    fn gap(&mut self) -> i64 {
        // Bursts (seconds to minutes), the rest of the day, and quiet weeks.
        let scale = match self.rng.u32(0..100) {
            0..=79 => 0.1,
            80..=94 => 2.0,
            _ => 12.0,
        };
        let exp = -(1.0 - self.rng.f64()).ln();
        // WhatsApp stamps messages in whole seconds.
        let gap = ((self.mean_gap as f64 * scale * exp) as i64).max(1000 + self.rng.i64(0..4000));
        gap / 1000 * 1000
    }

    fn sender(&mut self) -> (String, bool, Option<String>) {
        if self.rng.u32(0..100) < 40 {
            return (self.corpus.own_jid.clone(), true, None);
        }
        let members = &self.plan.members;
        let who = members[zipf_index(&mut self.rng, members.len(), 1.3)];
        let contact = &self.corpus.contacts[who];
        (contact.jid.clone(), false, contact.push_name.clone())
    }

    fn message(&mut self) -> NewMessage {
        self.ts += self.gap();
        let (sender_jid, from_me, push_name) = self.sender();
        let msg_id = format!("3EB0{:016X}", self.rng.u64(..));
        let roll = self.rng.u32(0..1000);
        let (kind, text, media, extra) = match roll {
            0..=69 => (
                MessageKind::Image,
                self.caption(),
                Some(media("image/jpeg", None, &mut self.rng)),
                None,
            ),
            70..=89 => (
                MessageKind::Video,
                self.caption(),
                Some(media("video/mp4", None, &mut self.rng)),
                None,
            ),
            90..=114 => (
                MessageKind::Voice,
                None,
                Some(media("audio/ogg; codecs=opus", None, &mut self.rng)),
                None,
            ),
            115..=124 => (
                MessageKind::Audio,
                None,
                Some(media("audio/mpeg", None, &mut self.rng)),
                None,
            ),
            125..=139 => {
                let (name, mime) = words::DOCUMENTS[self.rng.usize(0..words::DOCUMENTS.len())];
                (
                    MessageKind::Document,
                    self.caption(),
                    Some(media(mime, Some(name), &mut self.rng)),
                    None,
                )
            }
            140..=149 => (
                MessageKind::Sticker,
                None,
                Some(media("image/webp", None, &mut self.rng)),
                None,
            ),
            150..=152 => {
                let extra = serde_json::json!({
                    "latitude": 40.0 + self.rng.f64(), "longitude": -3.0 - self.rng.f64(), "name": "Café"
                });
                (MessageKind::Location, Some("Café".to_owned()), None, Some(extra))
            }
            153..=154 => {
                let contact = &self.corpus.contacts[self.rng.usize(0..self.corpus.contacts.len())];
                let name = contact
                    .saved_name
                    .clone()
                    .or(contact.push_name.clone())
                    .unwrap_or_default();
                let extra = serde_json::json!({ "display_name": name, "phone": contact.phone });
                (MessageKind::Contact, Some(name), None, Some(extra))
            }
            155..=156 => {
                let question = self.sentence(4);
                let extra = serde_json::json!({ "options": ["Yes", "No", "Maybe"], "selectable": 1 });
                (MessageKind::Poll, Some(question), None, Some(extra))
            }
            _ => (MessageKind::Text, Some(self.text()), None, None),
        };
        let quoted = (kind == MessageKind::Text && !self.recent.is_empty() && self.rng.u32(0..100) < 8).then(|| {
            let i = self.rng.usize(0..self.recent.len());
            self.recent[i].0.clone()
        });
        NewMessage {
            chat_jid: self.plan.jid.clone(),
            msg_id,
            sender_jid,
            from_me,
            ts: self.ts,
            kind,
            text,
            quoted,
            extra,
            media,
            push_name,
        }
    }

    /// Reactions, edits and revokes that follow a message a little later.
    fn follow_ups(&mut self, message: &NewMessage) {
        let key = message.key();
        let roll = self.rng.u32(0..1000);
        if roll < 40 {
            let (reactor, _, _) = self.sender();
            let emoji = words::EMOJI[zipf_index(&mut self.rng, 12, 1.2)].to_owned();
            self.queued.push(Item::Reaction {
                target: key.clone(),
                reactor_jid: reactor,
                emoji,
                at: message.ts + 30_000,
            });
        }
        if (40..50).contains(&roll) && message.kind == MessageKind::Text {
            let text = format!("{} {}", message.text.as_deref().unwrap_or(""), self.sentence(2));
            self.queued.push(Item::Edit {
                target: key.clone(),
                change_id: format!("3EB1{:016X}", self.rng.u64(..)),
                at: message.ts + 60_000,
                text,
            });
        }
        if (50..55).contains(&roll) {
            self.queued.push(Item::Revoke {
                target: key,
                change_id: format!("3EB2{:016X}", self.rng.u64(..)),
                at: message.ts + 90_000,
                by_jid: message.sender_jid.clone(),
            });
        }
    }

    fn caption(&mut self) -> Option<String> {
        (self.rng.u32(0..100) < 35).then(|| self.sentence(6))
    }

    fn text(&mut self) -> String {
        if self.rng.u32(0..100) < 3 {
            return (0..self.rng.usize(1..4))
                .map(|_| words::EMOJI[zipf_index(&mut self.rng, words::EMOJI.len(), 1.1)])
                .collect();
        }
        let words = match self.rng.u32(0..100) {
            0..=59 => self.rng.usize(1..9),
            60..=89 => self.rng.usize(8..26),
            _ => self.rng.usize(25..81),
        };
        let mut text = self.sentence(words);
        if self.rng.u32(0..100) < 20 {
            text.push(' ');
            for _ in 0..self.rng.usize(1..4) {
                text.push_str(words::EMOJI[zipf_index(&mut self.rng, words::EMOJI.len(), 1.1)]);
            }
        }
        text
    }

    fn sentence(&mut self, words: usize) -> String {
        // One chat in ten mixes in English, as people do.
        let lang = if self.rng.u32(0..10) == 0 {
            Lang::En
        } else {
            self.plan.lang
        };
        let vocabulary = lang.vocabulary();
        let separator = if lang == Lang::Zh { "" } else { " " };
        let mut out = String::new();
        for i in 0..words.max(1) {
            if i > 0 {
                out.push_str(separator);
            }
            let word = vocabulary[zipf_index(&mut self.rng, vocabulary.len(), 1.07)];
            if i == 0 && lang != Lang::Zh && self.rng.bool() {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    out.extend(first.to_uppercase());
                    out.push_str(chars.as_str());
                    continue;
                }
            }
            out.push_str(word);
        }
        out.push_str(match (lang, self.rng.u32(0..5)) {
            (Lang::Zh, 0) => "！",
            (Lang::Zh, _) => "。",
            (Lang::Hi, 0) => "।",
            (Lang::Ar, 0) => "؟",
            (_, 0) => "!",
            (_, 1) => "?",
            (_, 2) => ".",
            _ => "",
        });
        out
    }
}

fn media(mime: &str, file_name: Option<&str>, rng: &mut fastrand::Rng) -> MediaInfo {
    let mut bytes = |n: usize| (0..n).map(|_| rng.u8(..)).collect::<Vec<u8>>();
    let media_key = bytes(32);
    let file_sha256 = bytes(32);
    let file_enc_sha256 = bytes(32);
    let length = rng.i64(8_000..8_000_000);
    MediaInfo {
        mime: Some(mime.to_owned()),
        file_name: file_name.map(str::to_owned),
        direct_path: Some(format!("/v/t62.7118-24/{}_n.enc", rng.u64(..))),
        url: None,
        media_key: Some(media_key),
        media_key_ts: None,
        file_sha256: Some(file_sha256),
        file_enc_sha256: Some(file_enc_sha256),
        file_length: Some(length),
        width: mime.starts_with("image").then_some(1280),
        height: mime.starts_with("image").then_some(960),
        duration_secs: (mime.starts_with("audio") || mime.starts_with("video")).then(|| rng.i64(2..300)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_corpus() {
        let a: Vec<Item> = Corpus::new(Config::small()).items().collect();
        let b: Vec<Item> = Corpus::new(Config::small()).items().collect();
        assert_eq!(a, b);
        let other = Corpus::new(Config {
            seed: 7,
            ..Config::small()
        });
        assert_ne!(a, other.items().collect::<Vec<_>>());
    }

    #[test]
    fn has_the_promised_shape() {
        let corpus = Corpus::new(Config::small());
        let messages: Vec<NewMessage> = corpus.messages().collect();
        assert_eq!(messages.len(), 3_000);
        assert_eq!(corpus.chats.len(), 30);
        let media = messages.iter().filter(|m| m.kind.has_media()).count();
        assert!((300..=600).contains(&media), "about 15% media, got {media}");
        let keys: std::collections::HashSet<_> = messages.iter().map(NewMessage::key).collect();
        assert_eq!(keys.len(), messages.len(), "message keys are unique");
        for kind in [ChatKind::Direct, ChatKind::Group, ChatKind::Community] {
            assert!(corpus.chats.iter().any(|c| c.kind == kind), "{kind} chats exist");
        }
        let busiest = corpus.chats.iter().map(|c| c.messages).max().unwrap_or(0);
        assert!(busiest > 3_000 / 30 * 3, "a few chats are much busier: {busiest}");
        for script in ['你', 'न', 'ش', 'ñ'] {
            assert!(
                messages
                    .iter()
                    .any(|m| m.text.as_deref().is_some_and(|t| t.contains(script))),
                "some text contains {script}"
            );
        }
    }

    #[test]
    fn one_chat_can_be_generated_alone() {
        let corpus = Corpus::new(Config::small());
        let alone: Vec<Item> = corpus.chat_items(5).collect();
        let all: Vec<Item> = corpus.items().collect();
        let jid = &corpus.chats[5].jid;
        let from_all: Vec<&Item> = all
            .iter()
            .filter(|i| matches!(i, Item::Message(m) if &m.chat_jid == jid))
            .collect();
        let alone_messages: Vec<&Item> = alone.iter().filter(|i| matches!(i, Item::Message(_))).collect();
        assert_eq!(alone_messages, from_all);
    }
}
