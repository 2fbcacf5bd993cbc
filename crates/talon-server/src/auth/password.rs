//! Password hashing with argon2id. Hashing costs tens of milliseconds of CPU and ~19 MiB by design, so
//! it runs on a few threads of its own (one per core), never on the async workers that serve other
//! requests, nor on the blocking pool: each thread that has hashed keeps that memory in its allocator
//! arena, so the number of threads that ever hash bounds the memory hashing holds. How many hashes may
//! wait for these threads is bounded by the caller (`limits::AuthGuard`).

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{LazyLock, Mutex};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Verified against when the email is unknown, so a miss costs as long as a hit and timing does not
/// reveal which addresses have accounts.
static DECOY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("decoy password that never matches").unwrap_or_default());

fn hash_blocking(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

type Job = Box<dyn FnOnce() + Send>;

/// The queue the hashing threads take work from; they are started on first use.
static HASHERS: LazyLock<Mutex<mpsc::Sender<Job>>> = LazyLock::new(|| {
    let (sender, receiver) = mpsc::channel::<Job>();
    let receiver = std::sync::Arc::new(Mutex::new(receiver));
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    for i in 0..threads {
        let receiver = receiver.clone();
        let started = std::thread::Builder::new().name(format!("talon-hash-{i}")).spawn(move || {
            loop {
                let job = match receiver.lock() {
                    Ok(queue) => queue.recv(),
                    Err(poisoned) => poisoned.into_inner().recv(),
                };
                let Ok(job) = job else { return };
                // A job that panics drops its answer channel, which its caller reports; the thread lives on.
                let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
            }
        });
        if let Err(e) = started {
            tracing::error!(error = %e, "could not start a password hashing thread");
        }
    }
    Mutex::new(sender)
});

/// Runs `work` on a hashing thread and waits for its answer without blocking the async worker.
async fn on_hashing_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, HashError> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = answer.send(work());
    });
    HASHERS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(job)
        .map_err(|_| HashError("no password hashing thread is running".into()))?;
    answered.await.map_err(|_| HashError("password hashing failed on its thread".into()))
}

pub async fn hash(password: String) -> Result<String, HashError> {
    on_hashing_thread(move || hash_blocking(&password)).await?
}

/// Whether `password` matches `stored` (a PHC string); with `None`, spends the same time and says no.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    on_hashing_thread(move || {
        let matched_account = stored.is_some();
        let phc = stored.unwrap_or_else(|| DECOY_HASH.clone());
        let ok = PasswordHash::new(&phc)
            .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok());
        ok && matched_account
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let stored = hash("correct horse battery".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse battery".into(), Some(stored.clone())).await);
        assert!(!verify("wrong horse battery".into(), Some(stored)).await);
    }

    #[tokio::test]
    async fn unknown_account_never_verifies() {
        assert!(!verify("decoy password that never matches".into(), None).await);
    }
}
