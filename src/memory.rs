//! How the process takes memory from the kernel: transparent huge pages are
//! refused for winback's own process, once, before any arena grows.
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
