//! Dynamic batching: requests that arrive close together share one forward pass.
//!
//! A [`BatchQueue`] owns one worker thread and the model (built on that thread, so the model
//! need not be `Send`). Callers [`submit`](BatchQueue::submit) one input each and wait on the
//! answer; the worker takes the first waiting input, then keeps collecting until it holds
//! [`BatchConfig::max_batch`] inputs or [`BatchConfig::max_wait`] has passed since the first,
//! runs the model once on all of them and hands every caller its own output.
//!
//! ```
//! use deepzero_serve::batch::{BatchConfig, BatchQueue};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), deepzero_serve::ServeError> {
//! // A "model" that doubles numbers, one call per batch.
//! let queue = BatchQueue::start(BatchConfig::default(), || {
//!     Ok(|xs: Vec<i32>| Ok::<_, String>(xs.into_iter().map(|x| 2 * x).collect()))
//! })?;
//! assert_eq!(queue.call(21).await?, 42);
//! queue.shutdown(); // answers what is queued, then stops the worker
//! # Ok(()) }
//! ```
//!
//! With `max_batch = 1` every request runs alone (batching off). With `max_wait = 0` the worker
//! never waits: it takes whatever has queued up while the previous batch ran, which already
//! batches under load without delaying a lone request.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::ServeError;

/// How a [`BatchQueue`] groups requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchConfig {
    /// The most inputs in one forward pass (1: batching off).
    pub max_batch: usize,
    /// How long the first input of a batch may wait for others.
    pub max_wait: Duration,
    /// How many inputs may wait at once; more are refused ([`ServeError::Busy`]).
    pub queue_capacity: usize,
}

impl Default for BatchConfig {
    /// 32 inputs, no waiting (a batch is what queued up during the previous forward pass),
    /// 1024 waiting. A wait only pays when requests trickle in slower than the model runs:
    /// on LeNet it cost a lone client 2.5 ms a request and bought nothing at 32 clients
    /// (docs/serve.md).
    fn default() -> Self {
        Self {
            max_batch: 32,
            max_wait: Duration::ZERO,
            queue_capacity: 1024,
        }
    }
}

impl BatchConfig {
    /// `max_batch = 1`: every request runs alone.
    pub fn unbatched() -> Self {
        Self {
            max_batch: 1,
            max_wait: Duration::ZERO,
            ..Self::default()
        }
    }

    /// Refuses a zero batch size or queue capacity.
    pub fn validate(&self) -> Result<(), ServeError> {
        if self.max_batch == 0 || self.queue_capacity == 0 {
            return Err(ServeError::Config(
                "the batch size and the queue capacity must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// Counters of a [`BatchQueue`]: how many forward passes ran and how many inputs they held.
#[derive(Debug, Default)]
pub struct BatchStats {
    batches: AtomicU64,
    items: AtomicU64,
    largest: AtomicU64,
}

impl BatchStats {
    /// Forward passes run so far.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Inputs answered so far.
    pub fn items(&self) -> u64 {
        self.items.load(Ordering::Relaxed)
    }

    /// The largest batch so far.
    pub fn largest_batch(&self) -> u64 {
        self.largest.load(Ordering::Relaxed)
    }

    /// Inputs per forward pass on average (0 before the first).
    pub fn mean_batch(&self) -> f64 {
        let batches = self.batches();
        if batches == 0 {
            0.0
        } else {
            self.items() as f64 / batches as f64
        }
    }

    fn record(&self, size: usize) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.items.fetch_add(size as u64, Ordering::Relaxed);
        self.largest.fetch_max(size as u64, Ordering::Relaxed);
    }
}

/// The answer a caller waits for.
type Reply<O> = oneshot::Sender<Result<O, ServeError>>;

struct Job<I, O> {
    input: I,
    reply: Reply<O>,
}

/// A queue in front of a model that runs one forward pass per batch of requests (see the
/// [module documentation](self)).
pub struct BatchQueue<I, O> {
    sender: Mutex<Option<SyncSender<Job<I, O>>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    stats: Arc<BatchStats>,
}

impl<I: Send + 'static, O: Send + 'static> BatchQueue<I, O> {
    /// Starts the worker thread, builds the model there with `load` and waits until it is
    /// ready. The model is any `FnMut(Vec<I>) -> Result<Vec<O>, E>` that returns one output per
    /// input, in order; its error, or a panic inside it, fails every request of that batch
    /// ([`ServeError::Model`]) and the queue goes on.
    ///
    /// # Errors
    /// [`ServeError::Config`] for a bad `config`; `load`'s own error.
    pub fn start<L, M, E>(config: BatchConfig, load: L) -> Result<Self, ServeError>
    where
        L: FnOnce() -> Result<M, ServeError> + Send + 'static,
        M: FnMut(Vec<I>) -> Result<Vec<O>, E>,
        E: std::fmt::Display,
    {
        config.validate()?;
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Job<I, O>>(config.queue_capacity);
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), ServeError>>(1);
        let stats = Arc::new(BatchStats::default());
        let worker_stats = Arc::clone(&stats);
        let worker = std::thread::Builder::new()
            .name("deepzero-batch".into())
            .spawn(move || {
                let model = match catch_unwind(AssertUnwindSafe(load)) {
                    Ok(Ok(model)) => model,
                    Ok(Err(e)) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                    Err(panic) => {
                        let _ = ready_tx.send(Err(ServeError::Model(panic_message(&panic))));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                run_batches(config, receiver, model, &worker_stats);
            })
            .map_err(|e| ServeError::Config(format!("cannot start the batch thread: {e}")))?;
        let ready = ready_rx.recv().unwrap_or_else(|_| {
            Err(ServeError::Model(
                "the batch thread ended while loading".into(),
            ))
        });
        if let Err(e) = ready {
            let _ = worker.join();
            return Err(e);
        }
        Ok(Self {
            sender: Mutex::new(Some(sender)),
            worker: Mutex::new(Some(worker)),
            stats,
        })
    }

    /// Queues one input and returns where its answer will arrive.
    ///
    /// # Errors
    /// [`ServeError::Busy`] when the queue is full, [`ServeError::ShuttingDown`] after
    /// [`BatchQueue::shutdown`].
    pub fn submit(&self, input: I) -> Result<oneshot::Receiver<Result<O, ServeError>>, ServeError> {
        let (reply, answer) = oneshot::channel();
        let sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(sender) = sender.as_ref() else {
            return Err(ServeError::ShuttingDown);
        };
        match sender.try_send(Job { input, reply }) {
            Ok(()) => Ok(answer),
            Err(TrySendError::Full(_)) => Err(ServeError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(ServeError::ShuttingDown),
        }
    }

    /// Queues one input and waits for its output.
    pub async fn call(&self, input: I) -> Result<O, ServeError> {
        self.submit(input)?
            .await
            .unwrap_or(Err(ServeError::ShuttingDown))
    }

    /// How many batches and inputs the queue has run.
    pub fn stats(&self) -> &BatchStats {
        &self.stats
    }

    /// Stops taking inputs, answers every input already queued, and waits for the worker to
    /// end. Calling it again does nothing.
    pub fn shutdown(&self) {
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let worker = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(worker) = worker {
            let _ = worker.join();
        }
    }
}

impl<I, O> Drop for BatchQueue<I, O> {
    fn drop(&mut self) {
        // Dropping the sender lets the worker drain the queue and end; it is not joined here
        // so that dropping never blocks an async task.
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

/// The worker loop: collect a batch, run it, answer; until every sender is gone and the queue
/// is empty.
fn run_batches<I, O, M, E>(
    config: BatchConfig,
    receiver: Receiver<Job<I, O>>,
    mut model: M,
    stats: &BatchStats,
) where
    M: FnMut(Vec<I>) -> Result<Vec<O>, E>,
    E: std::fmt::Display,
{
    // `recv` still returns what was queued before the last sender was dropped.
    while let Ok(first) = receiver.recv() {
        let deadline = Instant::now() + config.max_wait;
        let mut jobs = vec![first];
        while jobs.len() < config.max_batch {
            let left = deadline.saturating_duration_since(Instant::now());
            let next = if left.is_zero() {
                receiver.try_recv().ok()
            } else {
                receiver.recv_timeout(left).ok()
            };
            match next {
                Some(job) => jobs.push(job),
                None => break,
            }
        }
        // A caller that gave up (timed out, disconnected) needs no forward pass.
        jobs.retain(|job| !job.reply.is_closed());
        if jobs.is_empty() {
            continue;
        }
        let (inputs, replies): (Vec<I>, Vec<Reply<O>>) =
            jobs.into_iter().map(|job| (job.input, job.reply)).unzip();
        let n = inputs.len();
        let outputs = match catch_unwind(AssertUnwindSafe(|| model(inputs))) {
            Ok(Ok(outputs)) if outputs.len() == n => Ok(outputs),
            Ok(Ok(outputs)) => Err(format!(
                "the model answered {} inputs with {} outputs",
                n,
                outputs.len()
            )),
            Ok(Err(e)) => Err(e.to_string()),
            Err(panic) => Err(panic_message(&panic)),
        };
        stats.record(n);
        match outputs {
            Ok(outputs) => {
                for (reply, output) in replies.into_iter().zip(outputs) {
                    let _ = reply.send(Ok(output));
                }
            }
            Err(message) => {
                for reply in replies {
                    let _ = reply.send(Err(ServeError::Model(message.clone())));
                }
            }
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!(
        "internal error in the model: {}",
        text.lines().next().unwrap_or("")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    /// A model that records each batch size and answers `x → x² + batch-independent offset`.
    fn squares(sizes: Arc<Mutex<Vec<usize>>>) -> impl FnMut(Vec<u64>) -> Result<Vec<u64>, String> {
        move |xs: Vec<u64>| {
            sizes.lock().unwrap().push(xs.len());
            std::thread::sleep(Duration::from_millis(5));
            Ok(xs.into_iter().map(|x| x * x + 7).collect())
        }
    }

    #[test]
    fn concurrent_requests_share_batches_and_each_gets_its_own_answer() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let config = BatchConfig {
            max_batch: 8,
            max_wait: Duration::from_millis(20),
            queue_capacity: 100,
        };
        let model = squares(Arc::clone(&sizes));
        let queue = Arc::new(BatchQueue::start(config, move || Ok(model)).unwrap());
        let answers = runtime().block_on(async {
            let tasks: Vec<_> = (0..40u64)
                .map(|x| {
                    let queue = Arc::clone(&queue);
                    tokio::spawn(async move { (x, queue.call(x).await) })
                })
                .collect();
            let mut answers = Vec::new();
            for task in tasks {
                answers.push(task.await.unwrap());
            }
            answers
        });
        for (x, answer) in answers {
            assert_eq!(answer.unwrap(), x * x + 7, "input {x}");
        }
        let sizes = sizes.lock().unwrap().clone();
        assert_eq!(sizes.iter().sum::<usize>(), 40);
        assert!(sizes.iter().all(|&s| s <= 8), "{sizes:?}");
        assert!(
            sizes.len() < 40,
            "40 concurrent requests ran one by one: {sizes:?}"
        );
        assert_eq!(queue.stats().items(), 40);
        assert_eq!(queue.stats().batches(), sizes.len() as u64);
        queue.shutdown();
    }

    #[test]
    fn batch_size_one_runs_every_request_alone() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let model = squares(Arc::clone(&sizes));
        let queue =
            Arc::new(BatchQueue::start(BatchConfig::unbatched(), move || Ok(model)).unwrap());
        runtime().block_on(async {
            let tasks: Vec<_> = (0..10u64)
                .map(|x| {
                    let queue = Arc::clone(&queue);
                    tokio::spawn(async move { queue.call(x).await })
                })
                .collect();
            for task in tasks {
                task.await.unwrap().unwrap();
            }
        });
        assert_eq!(*sizes.lock().unwrap(), vec![1; 10]);
    }

    #[test]
    fn shutdown_answers_what_was_queued_and_refuses_the_rest() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let config = BatchConfig {
            max_batch: 4,
            max_wait: Duration::ZERO,
            queue_capacity: 100,
        };
        let model = squares(Arc::clone(&sizes));
        let queue = BatchQueue::start(config, move || Ok(model)).unwrap();
        let pending: Vec<_> = (0..20u64).map(|x| queue.submit(x).unwrap()).collect();
        queue.shutdown();
        // Every request accepted before the shutdown has its answer.
        for (x, answer) in pending.into_iter().enumerate() {
            let x = x as u64;
            assert_eq!(answer.blocking_recv().unwrap().unwrap(), x * x + 7);
        }
        assert_eq!(sizes.lock().unwrap().iter().sum::<usize>(), 20);
        assert!(matches!(queue.submit(1), Err(ServeError::ShuttingDown)));
        queue.shutdown();
    }

    #[test]
    fn a_full_queue_refuses_and_a_failing_model_fails_only_its_batch() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
        let config = BatchConfig {
            max_batch: 1,
            max_wait: Duration::ZERO,
            queue_capacity: 2,
        };
        let queue = BatchQueue::start(config, move || {
            Ok(move |xs: Vec<i32>| {
                // Hold the first batch until the test has filled the queue.
                if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                    let _ = gate_rx.recv();
                }
                if xs[0] < 0 {
                    panic!("negative input");
                }
                if xs[0] == 0 {
                    return Err("zero is not allowed");
                }
                Ok(xs)
            })
        })
        .unwrap();
        let first = queue.submit(5).unwrap();
        // Wait until the worker holds the first input, so that the queue is empty.
        while calls.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let panicking = queue.submit(-1).unwrap();
        let failing = queue.submit(0).unwrap();
        assert!(matches!(queue.submit(3), Err(ServeError::Busy)));
        gate_tx.send(()).unwrap();
        assert_eq!(first.blocking_recv().unwrap().unwrap(), 5);
        let err = panicking.blocking_recv().unwrap().unwrap_err().to_string();
        assert!(err.contains("negative input"), "{err}");
        let err = failing.blocking_recv().unwrap().unwrap_err().to_string();
        assert!(err.contains("zero is not allowed"), "{err}");
        // The worker survived both.
        assert_eq!(
            queue.submit(9).unwrap().blocking_recv().unwrap().unwrap(),
            9
        );
        queue.shutdown();
    }

    #[test]
    fn a_failed_load_is_returned_and_zero_sizes_are_refused() {
        let err = BatchQueue::<u8, u8>::start(BatchConfig::default(), || {
            Err::<fn(Vec<u8>) -> Result<Vec<u8>, String>, _>(ServeError::Config("no run".into()))
        })
        .err()
        .unwrap();
        assert_eq!(err.to_string(), "no run");
        let config = BatchConfig {
            max_batch: 0,
            ..BatchConfig::default()
        };
        let err = BatchQueue::<u8, u8>::start(config, || Ok(|x: Vec<u8>| Ok::<_, String>(x)))
            .err()
            .unwrap();
        assert!(err.to_string().contains("at least 1"), "{err}");
    }
}
