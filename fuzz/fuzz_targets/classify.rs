//! Fuzz target: the bounce classifier must never panic on any input.
//!
//! A panic that escapes `classify` aborts the run (libfuzzer-sys catches it
//! at the target boundary). The MIME walk is winback's own
//! (`bounce::mime`); mail-parser only decodes transfer encodings, charsets
//! and the `From`/`Subject` headers.
#![no_main]

libfuzzer_sys::fuzz_target!(
    |data: &[u8]| {
        let _ = winback::bounce::classify(data);
        let text = String::from_utf8_lossy(data);
        let _ = winback::bounce::classify_smtp_reply(550, None, &text);
    }
);
