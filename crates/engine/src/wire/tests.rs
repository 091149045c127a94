//! A whole corpus, encoded as the phone sends it and decoded by the engine,
//! comes back unchanged.

use wa_store::Item;

use super::{change_message, web_message};
use crate::history::items_from_web_message;

#[test]
fn a_corpus_round_trips_through_the_wire_format() {
    let corpus = wa_corpus::Corpus::new(wa_corpus::Config::small());
    let own = corpus.own_jid.clone();
    let mut checked = [0usize; 4];
    for item in corpus.items() {
        match &item {
            Item::Message(original) => {
                let back = items_from_web_message(&web_message(original, &own), &original.chat_jid, &own);
                let [Item::Message(decoded)] = back.as_slice() else {
                    panic!("{original:?} came back as {back:?}");
                };
                let mut comparable = decoded.clone();
                // `extra` is rebuilt from the protobuf (e.g. a vCard instead of a
                // phone field): compare the parts both sides carry.
                for field in ["latitude", "longitude", "options", "display_name"] {
                    if let Some(value) = original.extra.as_ref().and_then(|e| e.get(field)) {
                        let got = decoded.extra.as_ref().and_then(|e| e.get(field));
                        assert_eq!(got, Some(value), "{field} of {}", original.msg_id);
                    }
                }
                comparable.extra.clone_from(&original.extra);
                assert_eq!(&comparable, original);
                checked[0] += 1;
            }
            Item::Edit { target, .. } | Item::Revoke { target, .. } | Item::Reaction { target, .. } => {
                let wire = change_message(&item, &own).expect("a change message");
                let back = items_from_web_message(&wire, &target.chat_jid, &own);
                assert_eq!(back, vec![item.clone()], "{item:?}");
                checked[match item {
                    Item::Edit { .. } => 1,
                    Item::Revoke { .. } => 2,
                    _ => 3,
                }] += 1;
            }
            _ => {}
        }
    }
    assert_eq!(checked[0], 3_000);
    assert!(
        checked[1..].iter().all(|n| *n > 0),
        "edits, revokes and reactions were all exercised: {checked:?}"
    );
}
