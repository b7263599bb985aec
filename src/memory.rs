//! How the process takes memory from the kernel and gives it back:
//! transparent huge pages are refused for winback's own process, once,
//! before any arena grows; a thread that has just read a large message
//! returns what it freed (see [`release_freed`]).
//!
//! mimalloc (the binary's allocator) asks for transparent huge pages for its
//! arenas, and the kernel zeroes a whole 2 MiB page at the first touch of
//! any byte of it. For `winback bounce classify` on 4,080 files that was
//! half of the process's time under `perf` and twice its memory (64–70 MB
//! against 34–39 MB); the daemon's resident set shrinks the same way.

/// Refuse transparent huge pages for this process and the children it
/// starts. A failure (a kernel without `PR_SET_THP_DISABLE`) changes
/// nothing else, so it is not reported.
#[allow(unsafe_code)]
pub fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integers only and touches no memory.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Returns to the kernel the memory the calling thread has freed. mimalloc
/// keeps freed pages for reuse: after one hostile report (a 9.8 MB notice
/// listing 215,000 addresses) the daemon's resident set stayed at 122 MB
/// where it idles at 29 MB (`benches/daemon_memory.rs`). Called by the
/// thread that read such input, after it is done with it; a no-op for memory
/// the global allocator did not take from mimalloc (the library's own tests
/// use the system allocator).
#[allow(unsafe_code)]
pub fn release_freed() {
    // SAFETY: mi_collect takes a flag and only walks mimalloc's own heap of
    // the calling thread; it is safe to call at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// The kernel reports the refusal in `/proc/self/status` (since 5.0).
    #[test]
    fn the_kernel_reports_huge_pages_refused() {
        super::no_transparent_huge_pages();
        let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
        let line = status.lines().find(|l| l.starts_with("THP_enabled:"));
        assert_eq!(line.map(|l| l.split_whitespace().nth(1)), Some(Some("0")), "{status}");
    }
}
