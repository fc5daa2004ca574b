//! Concurrent calls served in batches: whatever arrives while a batch is being served goes
//! into the next one, so that many callers cost one database round trip instead of one each.
//! Under no load a call is served at once, alone; the batch grows only with the queue.
use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Semaphore};

type Call<Req, Resp> = (Req, oneshot::Sender<Resp>);

pub struct Coalescer<Req, Resp> {
    name: &'static str,
    calls: mpsc::UnboundedSender<Call<Req, Resp>>,
}

/// The call got no answer: its batch panicked, or the runtime is shutting down.
#[derive(Debug, thiserror::Error)]
#[error("the {0} batcher dropped the call")]
pub struct Stopped(pub &'static str);

impl<Req: Send + 'static, Resp: Send + 'static> Coalescer<Req, Resp> {
    /// Starts the serving task on the current runtime. `serve` answers a batch of at most
    /// `max_batch` calls with one response per call, in order; up to `in_flight` batches are
    /// served at the same time.
    pub fn start<F, Fut>(name: &'static str, max_batch: usize, in_flight: usize, serve: F) -> Self
    where
        F: Fn(Vec<Req>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<Resp>> + Send + 'static,
    {
        let (calls, mut queued) = mpsc::unbounded_channel::<Call<Req, Resp>>();
        let serve = Arc::new(serve);
        let slots = Arc::new(Semaphore::new(in_flight.max(1)));
        tokio::spawn(async move {
            loop {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let Some(first) = queued.recv().await else {
                    return;
                };
                let mut batch = vec![first];
                while batch.len() < max_batch.max(1) {
                    match queued.try_recv() {
                        Ok(call) => batch.push(call),
                        Err(_) => break,
                    }
                }
                let (requests, replies): (Vec<Req>, Vec<oneshot::Sender<Resp>>) =
                    batch.into_iter().unzip();
                let serve = serve.clone();
                tokio::spawn(async move {
                    let responses = serve(requests).await;
                    debug_assert_eq!(responses.len(), replies.len(), "{name}: one per call");
                    for (reply, response) in replies.into_iter().zip(responses) {
                        // A caller that gave up no longer wants its answer.
                        let _ = reply.send(response);
                    }
                    drop(slot);
                });
            }
        });
        Coalescer { name, calls }
    }
}

impl<Req, Resp> Coalescer<Req, Resp> {
    /// Queues the call and waits for its batch to be served.
    pub async fn call(&self, request: Req) -> Result<Resp, Stopped> {
        let (reply, response) = oneshot::channel();
        self.calls
            .send((request, reply))
            .map_err(|_| Stopped(self.name))?;
        response.await.map_err(|_| Stopped(self.name))
    }
}
