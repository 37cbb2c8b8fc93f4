//! Password hashing with argon2id, off the async executor and bounded.
//!
//! Each hash or verification holds about 19 MiB for tens of milliseconds. Unbounded, a burst
//! of sign-ins (wrong or unknown users included) runs them all at once and takes the memory of
//! the machine, so every one takes a permit of [`Passwords`] first: at most `concurrency` run at
//! once, the others wait up to `max_wait` and are then refused as busy (503 `Retry-After`).
//!
//! The hashes run on `concurrency` threads of their own rather than on a shared blocking pool:
//! the allocator keeps a freed 19 MiB block in the arena of the thread that used it, so a pool
//! of dozens of threads would end up holding dozens of blocks (a gigabyte, measured) although
//! only two ran at once.

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, mpsc};
use std::time::Duration;

use argon2::password_hash::{
    self, Output, ParamsString, PasswordHash, Salt, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{Semaphore, oneshot};

use crate::error::{ApiError, Failure};

type Job = Box<dyn FnOnce() + Send>;

/// The bounded argon2 work of one server process.
#[derive(Debug)]
pub struct Passwords {
    permits: Semaphore,
    concurrency: usize,
    max_wait: Duration,
    in_flight: AtomicUsize,
    /// To the hashing threads; they end when it is dropped.
    jobs: mpsc::Sender<Job>,
}

impl Passwords {
    /// How long a hash waits for a permit before the request is refused as busy: a few
    /// seconds' queue at most, which a person signing in during a flood still accepts.
    pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(5);

    /// At most `concurrency` hashes at once (at least one), each on a thread of its own.
    ///
    /// # Errors
    /// A thread could not be started.
    pub fn new(concurrency: usize, max_wait: Duration) -> std::io::Result<Passwords> {
        let concurrency = concurrency.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..concurrency {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        let Ok(job) = next else { return };
                        // A panicking job drops its answer channel: its caller gets an error,
                        // and the thread goes on.
                        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                    }
                })?;
        }
        Ok(Passwords {
            permits: Semaphore::new(concurrency),
            concurrency,
            max_wait,
            in_flight: AtomicUsize::new(0),
            jobs,
        })
    }

    /// One permit per core: argon2 is CPU-bound, so more at once only costs memory.
    ///
    /// # Errors
    /// A thread could not be started.
    pub fn per_core() -> std::io::Result<Passwords> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Passwords::new(cores, Self::DEFAULT_MAX_WAIT)
    }

    /// Hashes running now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Hashes a password into a PHC string (`$argon2id$v=19$...`).
    ///
    /// # Errors
    /// `Busy` when no permit came in time; `Internal` if hashing fails.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.run(move || hash_blocking(&password)).await?
    }

    /// Checks a password against a stored hash. With no hash (an unknown user) it checks
    /// against a dummy hash, so that the answer takes as long either way.
    ///
    /// # Errors
    /// `Busy` when no permit came in time; `Internal` if the task fails.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, ApiError> {
        self.run(move || verify_blocking(&password, stored)).await
    }

    /// Runs `work` on a hashing thread once a permit is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = match tokio::time::timeout(self.max_wait, self.permits.acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(closed)) => return Err(ApiError::internal("password permits closed", closed)),
            Err(_elapsed) => {
                tracing::warn!(
                    concurrency = self.concurrency,
                    "password hashing saturated; request refused as busy"
                );
                return Err(ApiError::Busy {
                    retry_after_secs: 1,
                });
            }
        };
        let (answer, answered) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = answer.send(work());
            }))
            // The error holds only the job back: the context says it all.
            .map_err(|_| ApiError::Internal(Failure::new("password hashing threads gone")))?;
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let done = answered.await;
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        drop(permit);
        done.map_err(|e| ApiError::internal("password hashing task failed", e))
    }
}

/// Hashes without a permit: for the command line and start-up, where nothing runs beside it.
///
/// # Errors
/// `Internal` if hashing fails.
pub fn hash_blocking(password: &str) -> Result<String, ApiError> {
    hash_phc(password.as_bytes()).map_err(|e| ApiError::internal("password hashing failed", e))
}

thread_local! {
    /// Argon2's working memory, kept by each hashing thread and reused. Allocated afresh for
    /// every hash (64-byte aligned, 19 MiB), glibc does not reuse the freed block: measured,
    /// each verification on one thread grew the process by another 19 MiB.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Argon2 of `password` and `salt` into `out`, in this thread's working memory.
fn argon2_into(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    MEMORY.with_borrow_mut(|memory| {
        let blocks = argon2.params().block_count();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
    })
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) with the default parameters.
fn hash_phc(password: &[u8]) -> Result<String, password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    let argon2 = Argon2::default();
    let mut salt_buffer = [0u8; Salt::MAX_LENGTH];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_buffer)?;
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        Ok(argon2_into(&argon2, password, salt_bytes, out)?)
    })?;
    let phc = PasswordHash {
        algorithm: Algorithm::default().ident(),
        version: Some(Version::default().into()),
        params: ParamsString::try_from(argon2.params())?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Does `password` match the PHC string `stored` (with whatever parameters it names)?
fn matches_phc(password: &[u8], stored: &str) -> Result<bool, password_hash::Error> {
    let phc = PasswordHash::new(stored)?;
    let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else {
        return Ok(false);
    };
    let version = phc.version.map(Version::try_from).transpose()?;
    let argon2 = Argon2::new(
        Algorithm::try_from(phc.algorithm)?,
        version.unwrap_or_default(),
        Params::try_from(&phc)?,
    );
    let mut salt_buffer = [0u8; Salt::MAX_LENGTH];
    let salt_bytes = salt.decode_b64(&mut salt_buffer)?;
    let computed = Output::init_with(expected.len(), |out| {
        Ok(argon2_into(&argon2, password, salt_bytes, out)?)
    })?;
    // `Output`'s equality is constant-time.
    Ok(computed == expected)
}

fn verify_blocking(password: &str, stored: Option<String>) -> bool {
    let known = stored.is_some();
    let stored = stored.unwrap_or_else(|| dummy_hash().to_owned());
    let ok = matches_phc(password.as_bytes(), &stored).unwrap_or(false);
    ok && known
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_blocking("no user has this password").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn verifies_only_the_right_password() {
        let passwords = Passwords::new(2, Passwords::DEFAULT_MAX_WAIT).unwrap();
        let stored = passwords
            .hash("correct horse battery".into())
            .await
            .unwrap();
        assert!(stored.starts_with("$argon2id$"));
        let verify = |given: &str, stored: Option<String>| passwords.verify(given.into(), stored);
        assert!(
            verify("correct horse battery", Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(!verify("wrong horse battery", Some(stored)).await.unwrap());
        assert!(!verify("no user has this password", None).await.unwrap());
    }

    #[test]
    fn agrees_with_the_argon2_crate_and_reuses_its_memory() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let ours = hash_phc(b"correct horse battery").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default()
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert!(matches_phc(b"correct horse battery", &theirs).unwrap());
        assert!(!matches_phc(b"correct horse batterY", &theirs).unwrap());
        // Other parameters than ours are verified with the parameters they name.
        let light = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        );
        let light = light.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(matches_phc(b"pw", &light).unwrap());
        assert!(matches_phc(b"pw", "not a phc string").is_err());

        let before = MEMORY.with_borrow(Vec::capacity);
        for _ in 0..3 {
            verify_blocking("guess", None);
        }
        assert_eq!(MEMORY.with_borrow(Vec::capacity), before);
    }

    #[actix_web::test]
    async fn never_runs_more_than_its_bound_at_once() {
        let passwords = Arc::new(Passwords::new(2, Duration::from_secs(30)).unwrap());
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (passwords, running, most) = (passwords.clone(), running.clone(), most.clone());
                actix_web::rt::spawn(async move {
                    passwords
                        .run(move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(20));
                            running.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert_eq!(passwords.in_flight(), 0);
    }

    #[actix_web::test]
    async fn refuses_as_busy_when_no_permit_comes_in_time() {
        let passwords = Arc::new(Passwords::new(1, Duration::from_millis(50)).unwrap());
        let (started, release) = (
            Arc::new(tokio::sync::Notify::new()),
            Arc::new(std::sync::Barrier::new(2)),
        );
        let holder = {
            let (passwords, started, release) =
                (passwords.clone(), started.clone(), release.clone());
            actix_web::rt::spawn(async move {
                passwords
                    .run(move || {
                        started.notify_one();
                        release.wait();
                    })
                    .await
            })
        };
        started.notified().await;
        match passwords.run(|| ()).await {
            Err(ApiError::Busy { retry_after_secs }) => assert_eq!(retry_after_secs, 1),
            other => panic!("{other:?}"),
        }
        release.wait();
        holder.await.unwrap().unwrap();
        passwords.run(|| ()).await.unwrap();
    }
}
