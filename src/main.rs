//! The `winback` binary: parse arguments and hand over to the library.

/// mimalloc instead of the system allocator: parsing a bounce makes many
/// small, short-lived allocations, which glibc's malloc serves slowly.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    winback::memory::no_transparent_huge_pages();
    winback::cli::main()
}
