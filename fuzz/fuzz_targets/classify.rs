//! Fuzz target: the bounce classifier must never panic on any input.
//!
//! A panic that escapes `classify` aborts the run (libfuzzer-sys catches it
//! at the target boundary). The hook is silenced so panics caught on
//! purpose inside (mail-parser's debug assertions, see `bounce::parts`) do
//! not count as findings.
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: {
        std::panic::set_hook(Box::new(|_| {}));
    },
    |data: &[u8]| {
        let _ = winback::bounce::classify(data);
        let text = String::from_utf8_lossy(data);
        let _ = winback::bounce::classify_smtp_reply(550, None, &text);
    }
);
