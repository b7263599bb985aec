//! The `winback` binary: parse arguments and hand over to the library.
//!
//! Memory comes from mimalloc rather than the C library's allocator: a
//! bulk import allocates and frees a few strings per event on several
//! threads, and glibc's allocator spent a sixth of such an import's time
//! on it.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    winback::cli::main()
}
