//! How the server's heap gives memory back to the system. glibc keeps what a burst of requests freed
//! (for the next burst), so without help a server that once ran hot stays large for the rest of its
//! life. Linux with glibc only; elsewhere these do nothing.

use std::time::Duration;

/// How often the trimmer looks at what the heap holds free.
const TRIM_EVERY: Duration = Duration::from_secs(5);

/// Free heap memory the trimmer leaves in place: enough for the next requests to allocate without asking
/// the system again, small beside the server's own working set.
const KEEP_FREE_BYTES: usize = 4 << 20;

/// glibc gives each thread that allocates under contention an arena of its own and rarely hands their
/// freed memory back: after a chat load of up to 15,000 answers a second (bench/chat.sh) the server kept
/// 61 MiB of its own memory, and 43–53 MiB with two arenas (two runs), at the same speed. Two arenas
/// unless the operator set `MALLOC_ARENA_MAX` (which glibc then reads itself). Runs before any thread
/// starts.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; it is called before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

/// Every few seconds, hands the heap's free pages back to the system once more than `KEEP_FREE_BYTES`
/// sit unused, so memory after a load falls back towards the working set. A trim walks the arenas
/// under their locks for a few hundred microseconds; it runs on a blocking thread, not a request's.
pub fn spawn_trimmer() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    tokio::spawn(async {
        let mut tick = tokio::time::interval(TRIM_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if tokio::task::spawn_blocking(trim_if_worthwhile).await.is_err() {
                return;
            }
        }
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_if_worthwhile() {
    // SAFETY: both only read and adjust the allocator's own bookkeeping, under its locks.
    unsafe {
        let info = libc::mallinfo2();
        if info.fordblks > KEEP_FREE_BYTES {
            libc::malloc_trim(KEEP_FREE_BYTES);
        }
    }
}
