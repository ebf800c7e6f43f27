//! The process's allocator: mimalloc, returning freed memory at once.

// mimalloc: the processor and the coordinator allocate many small, short-lived
// objects; with glibc's allocator a third of the config processor's time went to
// malloc and free.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in the mimalloc that libmimalloc-sys 0.1.49 builds
/// (v3, `MI_MALLOC_VERSION 30302`): the 16th entry of `enum mi_option_e` in
/// `c_src/mimalloc/v3/include/mimalloc.h`. The crate exports the entries around
/// it (`mi_option_eager_commit_delay` = 14, `mi_option_use_numa_nodes` = 16) but
/// not this one. Check it again when libmimalloc-sys moves.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Returns freed memory to the system at once instead of after mimalloc's
/// default delay (1000 ms in this version's `src/options.c`). With the delay,
/// memory freed by one burst (a log patch, a claim batch) was still resident
/// when the next burst allocated afresh: the coordinator sat at 47 MiB idle
/// instead of 29 MiB, and peaked at 77 MiB instead of 58 MiB taking a 96 MiB
/// log, for the same throughput. `MIMALLOC_PURGE_DELAY` in the environment
/// (read by mimalloc before main) still wins.
pub(crate) fn purge_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: mi_option_set only stores a number in mimalloc's option table; it is
    // documented as not thread-safe, and this runs first in main, before any
    // other thread exists.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}
