//! Fuzz target: the bounce classifier must never panic on any input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = winback::bounce::classify(data);
    let text = String::from_utf8_lossy(data);
    let _ = winback::bounce::classify_smtp_reply(550, None, &text);
});
