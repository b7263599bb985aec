//! Journal tests: an answered append is in the store, a restart applies
//! what was journalled and not applied (once), torn tails and undecodable
//! records lose nothing that was acknowledged.

use super::*;

fn apply_adds() -> Apply {
    Arc::new(|w, events| events.iter().try_for_each(|e| w.add_event(e).map(|_| ())))
}

fn opens(store: &Store) -> i64 {
    store.read().unwrap().counts().unwrap().get("events:open:human")
}

fn journal_file(dir: &Path, records: &[(u64, Event)], tail: &[u8]) {
    let mut buf = Vec::new();
    for (seq, e) in records {
        push_record(&mut buf, *seq, e);
    }
    buf.extend_from_slice(tail);
    std::fs::write(dir.join(FILE), buf).unwrap();
}

fn open_event(n: u64) -> Event {
    Event::new(format!("u{n}@example.com"), "open", n as i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_are_applied_and_the_quiet_one_before_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (journal, folder) = Journal::open(&store, store.committer(64), 64, apply_adds()).unwrap();
    let folding = tokio::spawn(folder);
    journal.append(open_event(1)).await.unwrap();
    assert_eq!(opens(&store), 1, "a lone append is applied before it returns");
    let tasks: Vec<_> = (2..=200)
        .map(|n| {
            tokio::spawn({
                let j = journal.clone();
                async move { j.append(open_event(n)).await }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    drop(journal);
    folding.await.unwrap();
    assert_eq!(opens(&store), 200, "the folder applies everything before it ends");
    let mark = store.read().unwrap().blob(FOLDED_KEY).unwrap().map(|b| decode_seq(&b));
    assert_eq!(mark, Some(200));
}

#[test]
fn a_restart_applies_the_unapplied_once_and_drops_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        // The store already has 1 and 2 (the mark says so); 3 and 4 were
        // journalled and answered, then the process died; the torn tail
        // was never answered.
        store.write(|w| w.put_blob(FOLDED_KEY, &2u64.to_le_bytes())).unwrap();
    }
    let records: Vec<(u64, Event)> = (1..=4).map(|n| (n, open_event(n))).collect();
    journal_file(dir.path(), &records, &[9, 0, 0, 0, 1, 2]);
    let store = Store::open(dir.path()).unwrap();
    let folded = recover(&dir.path().join(FILE), &store, &apply_adds()).unwrap();
    assert_eq!(folded, 4);
    assert_eq!(opens(&store), 2, "only 3 and 4 applied");
    assert_eq!(std::fs::metadata(dir.path().join(FILE)).unwrap().len(), 0, "journal emptied");
    // A second start finds nothing to do.
    assert_eq!(recover(&dir.path().join(FILE), &store, &apply_adds()).unwrap(), 4);
    assert_eq!(opens(&store), 2);
}

#[test]
fn a_record_that_does_not_decode_keeps_the_file_aside() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut buf = Vec::new();
    push_record(&mut buf, 1, &open_event(1));
    let mut payload = 2u64.to_le_bytes().to_vec();
    payload.extend_from_slice(b"{not an event");
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    buf.extend_from_slice(&payload);
    push_record(&mut buf, 3, &open_event(3));
    std::fs::write(dir.path().join(FILE), &buf).unwrap();
    assert_eq!(recover(&dir.path().join(FILE), &store, &apply_adds()).unwrap(), 1);
    assert_eq!(opens(&store), 1, "the record before the bad one is applied");
    assert!(!dir.path().join(FILE).exists());
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".journal.bad-"))
        .collect();
    assert_eq!(aside.len(), 1, "the file is kept for the operator");
    assert_eq!(std::fs::read(aside[0].path()).unwrap(), buf, "byte for byte");
}

#[test]
fn parse_stops_at_a_bad_checksum() {
    let mut buf = Vec::new();
    push_record(&mut buf, 1, &open_event(1));
    let good = buf.len();
    push_record(&mut buf, 2, &open_event(2));
    let last = buf.len() - 1;
    buf[last] ^= 0xff;
    let (records, end, bad) = parse(&buf);
    assert_eq!(records.len(), 1);
    assert_eq!(end, good);
    assert_eq!(bad, None);
}
