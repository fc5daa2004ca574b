//! Panics in actors' work become errors, so that an actor keeps running and its caller gets an
//! answer. A `ResponseActFuture` runs inside the actor's own task: unguarded, a panic there
//! ends the actor, and every later message to it fails with "mailbox closed". A
//! `ResponseFuture` runs in a task of its own: unguarded, a panic there drops the answer, and
//! the caller learns only that the mailbox closed. Guarded, both answer
//! `Failure::Unexpected` (a 500 for HTTP callers, logged there with the request id) and the
//! actor goes on with the next message.
//!
//! What a caught panic leaves behind is the actor's state as it was at the panic. Actors keep
//! caches and batches whose entries are each written whole, so the worst case is a cache
//! entry or a batch that the panicking work did not finish; the batch's own callers then get
//! an error, as on a database failure.
use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix::{Actor, ActorFuture, ResponseActFuture, ResponseFuture};
use futures_util::FutureExt;

use super::Failure;

/// What a panic said, when it said it with a string (as `panic!` and `expect` do).
pub fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)")
}

impl Failure {
    fn panicked(payload: &(dyn Any + Send)) -> Failure {
        let message = panic_message(payload);
        tracing::error!(panic = %message, "an actor's work panicked; the actor goes on");
        crate::metrics::panic_caught("actor");
        Failure::Unexpected(anyhow::anyhow!("panicked: {message}"))
    }
}

/// A handler's future whose panic becomes `Failure::Unexpected`.
pub fn guard<T: 'static>(
    work: impl Future<Output = Result<T, Failure>> + 'static,
) -> ResponseFuture<Result<T, Failure>> {
    Box::pin(
        AssertUnwindSafe(work)
            .catch_unwind()
            .map(|result| result.unwrap_or_else(|payload| Err(Failure::panicked(&*payload)))),
    )
}

/// An actor future (which runs in the actor's task, with access to its state) whose panic
/// becomes `Failure::Unexpected` instead of ending the actor.
pub fn guard_act<A, T, F>(work: F) -> ResponseActFuture<A, Result<T, Failure>>
where
    A: Actor,
    T: 'static,
    F: ActorFuture<A, Output = Result<T, Failure>> + 'static,
{
    Box::pin(Guarded {
        work: Some(Box::pin(work)),
    })
}

/// An actor's boxed work, as `ResponseActFuture` holds it.
type Work<A, T> = Pin<Box<dyn ActorFuture<A, Output = Result<T, Failure>>>>;

struct Guarded<A: Actor, T> {
    /// None once it panicked: a future that panicked is never polled again.
    work: Option<Work<A, T>>,
}

impl<A: Actor, T> ActorFuture<A> for Guarded<A, T> {
    type Output = Result<T, Failure>;

    fn poll(
        self: Pin<&mut Self>,
        actor: &mut A,
        ctx: &mut A::Context,
        task: &mut Context<'_>,
    ) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(work) = this.work.as_mut() else {
            return Poll::Ready(Err(Failure::Unexpected(anyhow::anyhow!(
                "polled after it panicked"
            ))));
        };
        match std::panic::catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(actor, ctx, task))) {
            Ok(poll) => poll,
            Err(payload) => {
                this.work = None;
                Poll::Ready(Err(Failure::panicked(&*payload)))
            }
        }
    }
}

/// Work an actor spawns in its own task (a group commit, a batch of lookups), with what to
/// do if it panics: `recover` puts the actor's bookkeeping back (the commit no longer in
/// flight, say) so that the actor goes on. The panicking work's callers learn of it as their
/// answers' channels close, as they would if the work had failed.
pub fn recovering<A, F, R>(work: F, recover: R) -> Recovering<A, F, R>
where
    A: Actor,
    F: ActorFuture<A, Output = ()>,
    R: FnOnce(&mut A, &mut A::Context),
{
    Recovering {
        work: Some(Box::pin(work)),
        recover: Some(Box::new(recover)),
        _actor: std::marker::PhantomData,
    }
}

pub struct Recovering<A, F, R> {
    work: Option<Pin<Box<F>>>,
    recover: Option<Box<R>>,
    _actor: std::marker::PhantomData<fn(&mut A)>,
}

impl<A, F, R> ActorFuture<A> for Recovering<A, F, R>
where
    A: Actor,
    F: ActorFuture<A, Output = ()>,
    R: FnOnce(&mut A, &mut A::Context),
{
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        actor: &mut A,
        ctx: &mut A::Context,
        task: &mut Context<'_>,
    ) -> Poll<()> {
        let this = self.get_mut();
        let Some(work) = this.work.as_mut() else {
            return Poll::Ready(());
        };
        match std::panic::catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(actor, ctx, task))) {
            Ok(poll) => poll,
            Err(payload) => {
                this.work = None;
                tracing::error!(panic = %panic_message(&*payload), "an actor's spawned work panicked; the actor goes on");
                crate::metrics::panic_caught("actor");
                if let Some(recover) = this.recover.take() {
                    recover(actor, ctx);
                }
                Poll::Ready(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use actix::prelude::*;

    use super::recovering;

    /// Counts the commits in flight, as a group-committing actor does.
    #[derive(Default)]
    struct Committer {
        in_flight: usize,
        recovered: usize,
    }

    impl Actor for Committer {
        type Context = Context<Self>;
    }

    #[derive(Message)]
    #[rtype(result = "()")]
    struct Commit {
        panics: bool,
    }

    impl Handler<Commit> for Committer {
        type Result = ();

        fn handle(&mut self, msg: Commit, ctx: &mut Context<Self>) {
            self.in_flight += 1;
            let work = fut::wrap_future(async move {
                if std::hint::black_box(msg.panics) {
                    panic!("the statement could not be bound");
                }
            })
            .map(|_, act: &mut Self, _| act.in_flight -= 1);
            ctx.spawn(recovering(work, |act: &mut Self, _| {
                act.in_flight -= 1;
                act.recovered += 1;
            }));
        }
    }

    #[derive(Message)]
    #[rtype(result = "(usize, usize)")]
    struct State;

    impl Handler<State> for Committer {
        type Result = MessageResult<State>;

        fn handle(&mut self, _: State, _: &mut Context<Self>) -> Self::Result {
            MessageResult((self.in_flight, self.recovered))
        }
    }

    /// The committer's state once its spawned work has run (polled a bounded number of times;
    /// a dead actor fails the `send`).
    async fn settled(committer: &Addr<Committer>, expected: (usize, usize)) -> (usize, usize) {
        let mut state = committer.send(State).await.unwrap();
        for _ in 0..100 {
            if state == expected {
                break;
            }
            state = committer.send(State).await.unwrap();
        }
        state
    }

    #[actix::test]
    async fn spawned_work_that_panics_is_recovered_and_the_actor_goes_on() {
        let committer = Committer::default().start();
        committer.send(Commit { panics: true }).await.unwrap();
        // The next message finds the actor running, its bookkeeping put back.
        assert_eq!(settled(&committer, (0, 1)).await, (0, 1));
        committer.send(Commit { panics: false }).await.unwrap();
        assert_eq!(
            settled(&committer, (0, 1)).await,
            (0, 1),
            "a later commit completes as usual"
        );
    }
}
