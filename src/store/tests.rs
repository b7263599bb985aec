//! Store tests on a real redb file in a temp dir.

use super::*;
use crate::domain::{Contact, ContactState, Event, Suppression, SuppressionReason};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open store");
    (dir, store)
}

fn message(id: u64, state: MessageState) -> MessageRecord {
    MessageRecord {
        id,
        email: "a@example.com".into(),
        sequence: "wb".into(),
        step: 0,
        created_at: 0,
        state,
        attempts: 0,
        first_attempt_at: None,
        sent_at: None,
        message_id: None,
        last_reply: None,
        links: vec![],
        variant: None,
    }
}

#[test]
fn schedule_follows_due_at_and_counters_follow_state() {
    let (_d, s) = store();
    let mut c = Contact::new("a@example.com", 0);
    c.due_at = Some(100);
    s.write(|w| w.put_contact(None, &c)).unwrap();
    let mut d = Contact::new("b@example.com", 0);
    d.due_at = Some(50);
    s.write(|w| w.put_contact(None, &d)).unwrap();
    let r = s.read().unwrap();
    assert_eq!(r.due_contacts(49, 10).unwrap(), Vec::<String>::new());
    assert_eq!(r.due_contacts(100, 10).unwrap(), vec!["b@example.com", "a@example.com"]);
    assert_eq!(r.due_contacts(100, 1).unwrap(), vec!["b@example.com"]);
    assert_eq!(r.next_wakeup().unwrap(), Some(50));
    assert_eq!(r.counts().unwrap().get("contacts:idle"), 2);
    drop(r);

    let old = c.clone();
    c.due_at = Some(500);
    c.state =
        ContactState::Active { sequence: "wb".into(), next_step: 1, entered_at: 0, awaiting: None, control: false };
    s.write(|w| w.put_contact(Some(&old), &c)).unwrap();
    let r = s.read().unwrap();
    assert_eq!(r.due_contacts(499, 10).unwrap(), vec!["b@example.com"], "old schedule entry removed");
    let counts = r.counts().unwrap();
    assert_eq!(counts.get("contacts:idle"), 1);
    assert_eq!(counts.get("contacts:active:wb:1"), 1);
    assert_eq!(counts.get("contacts:total"), 2);
    assert_eq!(r.contact("a@example.com").unwrap(), Some(c));
}

#[test]
fn suppressions_keep_the_first_reason_and_count() {
    let (_d, s) = store();
    let sup = |reason| Suppression { email: "x@example.com".into(), reason, at: 1, detail: String::new() };
    assert!(s.write(|w| w.suppress(&sup(SuppressionReason::HardBounce))).unwrap());
    assert!(!s.write(|w| w.suppress(&sup(SuppressionReason::Manual))).unwrap());
    let r = s.read().unwrap();
    assert_eq!(r.suppression("x@example.com").unwrap().map(|s| s.reason), Some(SuppressionReason::HardBounce));
    assert_eq!(r.counts().unwrap().get("suppressed:hard_bounce"), 1);
    drop(r);
    let lifted = s.write(|w| w.unsuppress("x@example.com")).unwrap();
    assert_eq!(lifted.map(|s| s.reason), Some(SuppressionReason::HardBounce));
    let r = s.read().unwrap();
    assert_eq!(r.suppression("x@example.com").unwrap(), None);
    assert_eq!(r.counts().unwrap().get("suppressed:hard_bounce"), 0);
    assert_eq!(r.suppressions().unwrap(), vec![]);
}

#[test]
fn outbox_and_inflight_follow_message_state() {
    let (_d, s) = store();
    let m = message(1, MessageState::Queued { ready_at: 10 });
    s.write(|w| w.put_message(None, &m)).unwrap();
    assert_eq!(s.read().unwrap().ready_messages(10, 5).unwrap(), vec![1]);
    assert_eq!(s.read().unwrap().queue_depth().unwrap(), 1);
    let sending = MessageRecord { state: MessageState::Sending { since: 11 }, ..m.clone() };
    s.write(|w| w.put_message(Some(&m), &sending)).unwrap();
    let r = s.read().unwrap();
    assert_eq!(r.ready_messages(100, 5).unwrap(), Vec::<u64>::new());
    assert_eq!(r.inflight().unwrap(), vec![1]);
    drop(r);
    let sent = MessageRecord { state: MessageState::Sent, ..sending.clone() };
    s.write(|w| w.put_message(Some(&sending), &sent)).unwrap();
    let r = s.read().unwrap();
    assert_eq!(r.inflight().unwrap(), Vec::<u64>::new());
    assert_eq!(r.counts().unwrap().get("messages:sent"), 1);
    assert_eq!(r.counts().unwrap().get("messages:queued"), 1);
}

#[test]
fn events_are_indexed_per_contact_and_ids_increase() {
    let (_d, s) = store();
    let ids = s
        .write(|w| {
            let a = w.add_event(&Event::new("a@example.com", "open", 5))?;
            let b = w.add_event(&Event::new("b@example.com", "click", 6))?;
            let c = w.add_event(&Event::new("a@example.com", "purchase", 7))?;
            Ok((a, b, c))
        })
        .unwrap();
    assert!(ids.0 < ids.1 && ids.1 < ids.2);
    let r = s.read().unwrap();
    let kinds: Vec<String> = r.events_of("a@example.com").unwrap().into_iter().map(|e| e.kind.to_string()).collect();
    assert_eq!(kinds, vec!["open", "purchase"]);
    assert_eq!(r.counts().unwrap().get("events:click:human"), 1);
}

/// A contact's events recorded one after another share a row (a chunk);
/// pages of an export may end inside one, rows of one event from older
/// stores still read, and erasing a person removes their rows only.
#[test]
fn chunks_page_check_and_erase() {
    let (_d, s) = store();
    let ev = |who: &str, at: i64| Event::new(format!("{who}@example.com"), "open", at);
    s.write(|w| {
        for (who, at) in [("a", 1), ("a", 2), ("a", 3), ("b", 4), ("a", 5), ("a", 6)] {
            w.add_event(&ev(who, at))?;
        }
        Ok(())
    })
    .unwrap();
    let single = s.write(|w| w.add_event(&ev("a", 7))).unwrap();
    s.write(|w| {
        w.events.insert(single, serde_json::to_vec(&ev("a", 7)).unwrap().as_slice())?;
        Ok(())
    })
    .unwrap();
    let r = s.read().unwrap();
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let (page, next) = r.events_page(after, None, 2, 100).unwrap();
        pages.push(page.iter().map(|(id, e)| (*id, e.at)).collect::<Vec<_>>());
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(pages, vec![vec![(1, 1), (2, 2)], vec![(3, 3), (4, 4)], vec![(5, 5), (6, 6)], vec![(7, 7)]]);
    let (late, _) = r.events_page(Some(2), Some(5), 10, 100).unwrap();
    assert_eq!(late.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [5, 6, 7]);
    let times =
        |who: &str| r.events_of(&format!("{who}@example.com")).unwrap().iter().map(|e| e.at).collect::<Vec<_>>();
    assert_eq!(times("a"), [1, 2, 3, 5, 6, 7]);
    assert_eq!(times("b"), [4]);
    // The last n, across chunks and runs, oldest first.
    let last = |who: &str, n| {
        r.last_events_of(&format!("{who}@example.com"), n).unwrap().iter().map(|e| e.at).collect::<Vec<_>>()
    };
    assert_eq!(last("a", 0), [] as [i64; 0]);
    assert_eq!(last("a", 2), [6, 7]);
    assert_eq!(last("a", 4), [3, 5, 6, 7]);
    assert_eq!(last("a", 10), times("a"));
    assert_eq!(last("b", 1), [4]);
    assert!(last("nobody", 5).is_empty());
    let mut all = Vec::new();
    r.for_each_event(|id, e| all.push((id, e.at))).unwrap();
    assert_eq!(all, (1..=7).map(|i| (i, i as i64)).collect::<Vec<_>>());
    drop(r);
    let check = s.check().unwrap();
    assert!(check.is_clean(), "{:?}", check.problems);
    assert_eq!((check.rows.get("events"), check.events), (4, 7));

    let erased = s.write(|w| w.erase_person("a@example.com", "gone@invalid", "h", 9)).unwrap();
    assert_eq!(erased.events, 6);
    let r = s.read().unwrap();
    assert!(r.events_of("a@example.com").unwrap().is_empty());
    assert_eq!(r.events_of("b@example.com").unwrap().len(), 1);
    drop(r);
    let check = s.check().unwrap();
    assert!(check.is_clean(), "{:?}", check.problems);
    assert_eq!((check.rows.get("events"), check.events), (1, 1));
    s.write(|w| {
        w.events.remove(4)?;
        Ok(())
    })
    .unwrap();
    let check = s.check().unwrap();
    assert!(
        check.problems.iter().any(|p| p.contains("b@example.com names events 4 to 4, which do not exist")),
        "{:?}",
        check.problems
    );
}

#[test]
fn a_second_process_view_is_refused_while_open() {
    let (dir, s) = store();
    match Store::open(dir.path()) {
        Err(StoreError::Locked(_)) => {}
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(s);
    assert!(Store::open(dir.path()).is_ok(), "reopens after close");
}

#[test]
fn failed_write_keeps_nothing() {
    let (_d, s) = store();
    let r: Result<(), StoreError> = s.write(|w| {
        w.put_contact(None, &Contact::new("a@example.com", 0))?;
        Err(StoreError::Db("boom".into()))
    });
    assert!(r.is_err());
    assert_eq!(s.read().unwrap().contact("a@example.com").unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_serves_concurrent_writers_and_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        let c = s.committer(64);
        let mut tasks = Vec::new();
        for i in 0..200 {
            let c = c.clone();
            tasks.push(tokio::spawn(async move {
                c.run(move |w| w.put_contact(None, &Contact::new(format!("u{i}@example.com"), 0))).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        // A failing job fails its whole batch, and only that batch.
        let bad = c.run(|w| -> Result<(), StoreError> {
            w.put_contact(None, &Contact::new("bad@example.com", 0))?;
            Err(StoreError::Db("refused".into()))
        });
        assert!(bad.await.is_err());
        drop(c);
        // Let the commit thread finish and release the file.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let s = Store::open(dir.path()).unwrap();
    let r = s.read().unwrap();
    assert_eq!(r.contact_count().unwrap(), 200);
    assert_eq!(r.contact("bad@example.com").unwrap(), None);
}

#[test]
fn message_id_index_follows_the_record() {
    let (_d, s) = store();
    let mut m = message(7, MessageState::Queued { ready_at: 0 });
    s.write(|w| w.put_message(None, &m)).unwrap();
    let old = m.clone();
    m.message_id = Some("<wb.7.AB@b.example.org>".into());
    s.write(|w| w.put_message(Some(&old), &m)).unwrap();
    let r = s.read().unwrap();
    assert_eq!(r.message_by_message_id("wb.7.ab@B.example.org").unwrap().map(|m| m.id), Some(7));
    assert_eq!(r.message_by_message_id("<wb.7.AB@b.example.org>").unwrap().map(|m| m.id), Some(7));
    assert!(r.message_by_message_id("<wb.8.AB@b.example.org>").unwrap().is_none());
    drop(r);
    let old = m.clone();
    m.message_id = Some("<other@b.example.org>".into());
    s.write(|w| w.put_message(Some(&old), &m)).unwrap();
    let r = s.read().unwrap();
    assert!(r.message_by_message_id("wb.7.ab@b.example.org").unwrap().is_none(), "old entry removed");
    assert_eq!(r.message_by_message_id("other@b.example.org").unwrap().map(|m| m.id), Some(7));
}

#[test]
fn message_id_index_is_built_for_a_store_written_without_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        // A store as written before the index existed: messages only.
        let db = redb::Database::create(dir.path().join("winback.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(tables::MESSAGES).unwrap();
            let mut m = message(3, MessageState::Sent);
            m.message_id = Some("<wb.3.0123456789abcdef@b.example.org>".into());
            t.insert(3, codec::encode(&m).as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    let found = s.read().unwrap().message_by_message_id("wb.3.0123456789abcdef@b.example.org").unwrap();
    assert_eq!(found.map(|m| m.id), Some(3));
}

/// A store with a record in every table, through the writer.
fn populated() -> (tempfile::TempDir, Store) {
    let (d, s) = store();
    s.write(|w| {
        let mut c = Contact::new("a@example.com", 0);
        c.due_at = Some(10);
        w.put_contact(None, &c)?;
        let mut m = message(1, MessageState::Queued { ready_at: 5 });
        m.message_id = Some("<1@example.com>".into());
        w.put_message(None, &m)?;
        let mut inflight = message(2, MessageState::Sending { since: 1 });
        inflight.email = "a@example.com".into();
        w.put_message(None, &inflight)?;
        w.add_event(&Event::new("a@example.com", crate::domain::EventKind::Open, 3))?;
        w.add_history("a@example.com", 4, "imported")?;
        w.add_reactivation(&Reactivation {
            email: "a@example.com".into(),
            sequence: "wb".into(),
            after_step: 1,
            at: 4,
            control: false,
        })?;
        w.suppress(&Suppression {
            email: "b@example.com".into(),
            reason: SuppressionReason::Manual,
            at: 0,
            detail: String::new(),
        })?;
        w.put_soft_bounces("a@example.com", &SoftBounces::default())?;
        w.mark_report(1, 1)?;
        w.put_blob("x", b"y")
    })
    .unwrap();
    (d, s)
}

#[test]
fn snapshot_copies_every_table_and_the_list_misses_none() {
    let (_d, s) = populated();
    let names: Vec<String> = {
        let txn = s.database().begin_read().unwrap();
        txn.list_tables().unwrap().map(|t| redb::TableHandle::name(&t).to_string()).collect()
    };
    let out = tempfile::tempdir().unwrap();
    let copy_path = out.path().join("winback.redb");
    let rows = s.snapshot_to(&copy_path).unwrap();
    for name in &names {
        assert!(rows.0.iter().any(|(t, _)| t == name), "table {name} is not in tables::each_table");
    }
    assert!(s.snapshot_to(&copy_path).is_err(), "a copy never overwrites");
    let original = s.check().unwrap();
    let copy = Store::open(out.path()).unwrap();
    let copied = copy.check().unwrap();
    assert!(copied.is_clean(), "{:?}", copied.problems);
    assert_eq!(copied.rows, original.rows);
    assert_eq!(rows, original.rows);
    assert_eq!(rows.get("contacts"), 1);
    assert_eq!(rows.get("messages"), 2);
    let r = copy.read().unwrap();
    assert_eq!(r.contact("a@example.com").unwrap(), s.read().unwrap().contact("a@example.com").unwrap());
    assert_eq!(r.inflight().unwrap(), vec![2]);
}

#[test]
fn check_names_dangling_index_entries_and_undecodable_records() {
    let (d, s) = populated();
    assert!(s.check().unwrap().is_clean());
    {
        let txn = s.database().begin_write().unwrap();
        txn.open_table(tables::OUTBOX).unwrap().insert((7u64, 99u64), ()).unwrap();
        txn.open_table(tables::SCHEDULE).unwrap().insert((10u64, "ghost@example.com"), ()).unwrap();
        txn.open_table(tables::CONTACTS).unwrap().insert("bad@example.com", b"{not json".as_slice()).unwrap();
        txn.commit().unwrap();
    }
    let report = s.check().unwrap();
    assert_eq!(report.problem_count, 3, "{:?}", report.problems);
    assert!(report.problems.iter().any(|p| p.contains("outbox") && p.contains("99")));
    assert!(report.problems.iter().any(|p| p.contains("ghost@example.com")));
    assert!(report.problems.iter().any(|p| p.contains("contacts") && p.contains("bad@example.com")));
    assert!(!report.is_clean());
    drop(s);
    assert!(check_pages(d.path()).unwrap(), "pages of a sound file check out");
    let (before, after) = compact(d.path()).unwrap();
    assert!(after <= before, "{before} → {after}");
    assert!(check_pages(d.path()).unwrap(), "pages check out after compaction");
    let s = Store::open(d.path()).unwrap();
    assert_eq!(s.check().unwrap().problem_count, 3, "compaction keeps every record");
}
