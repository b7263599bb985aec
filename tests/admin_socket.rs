//! The admin socket's bounds with a real store and socket: a client that
//! connects and sends half a request (or nothing) is disconnected at the
//! read deadline, so such clients cannot keep the socket from answering.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio_util::sync::CancellationToken;
use winback::admin::Context;
use winback::admin::server::{AdminLimits, bind, serve};
use winback::clock::Clock;
use winback::config::Config;
use winback::store::Store;

/// One answer line, or `None` when the server closed the connection.
async fn answer(s: &mut BufReader<UnixStream>, within: Duration) -> Option<serde_json::Value> {
    let mut line = String::new();
    let n = tokio::time::timeout(within, s.read_line(&mut line)).await.expect("an answer or a close in time");
    match n {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(serde_json::from_str(&line).expect("JSON answer")),
    }
}

#[tokio::test]
async fn half_sent_requests_are_cut_at_the_read_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "state_dir = {:?}\n[sender]\nfrom = \"News <news@example.org>\"\nbounce_domain = \"b.example.org\"\n",
        dir.path().display().to_string()
    );
    let cfg = Config::from_toml("test", &toml).expect("config");
    let cx = Context {
        store: Store::open(dir.path()).unwrap(),
        cfg: Arc::new(cfg),
        clock: Clock::system(),
        guard: None,
        keys: None,
        reload: None,
    };
    let path = dir.path().join("admin.sock");
    let listener = bind(&path).unwrap();
    let read_timeout = Duration::from_secs(1);
    let limits = AdminLimits { max_connections: 2, read_timeout, drain: Duration::from_secs(1) };
    let cancel = CancellationToken::new();
    let server = tokio::spawn(serve(listener, cx, cancel.clone(), limits));
    let connect = || async { BufReader::new(UnixStream::connect(&path).await.expect("connect")) };
    // A generous bound for "at the deadline": what matters is that it ends.
    let bound = read_timeout + Duration::from_secs(20);

    // Two clients take both slots: one sends half a request, one nothing.
    let mut half = connect().await;
    half.get_mut().write_all(br#"{"op":"sta"#).await.unwrap();
    let mut silent = connect().await;
    let mut third = connect().await;
    let busy = answer(&mut third, bound).await.expect("an answer");
    assert_eq!(busy["result"], "error", "{busy}");
    assert!(busy["message"].as_str().unwrap().contains("busy"), "{busy}");

    let cut = answer(&mut half, bound).await.expect("an explanation before the close");
    assert!(cut["message"].as_str().unwrap().contains("not completed within 1s"), "{cut}");
    assert!(answer(&mut half, bound).await.is_none(), "then closed");
    assert!(answer(&mut silent, bound).await.is_none(), "an idle connection is closed too");

    // The slots are free again: a whole request is answered.
    let mut ok = connect().await;
    ok.get_mut().write_all(b"{\"op\":\"status\"}\n").await.unwrap();
    let status = answer(&mut ok, bound).await.expect("an answer");
    assert_eq!(status["result"], "status", "{status}");

    cancel.cancel();
    let ended = tokio::time::timeout(bound, server).await.expect("stops").expect("no panic");
    assert!(ended.is_ok(), "{ended:?}");
}
