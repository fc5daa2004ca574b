//! Reading a cancellation reason with the sentiment model: a short reason on the caller's
//! thread, a long one on the classifier's own threads (a SyncArbiter), so that classifying
//! text never holds up an arbiter that serves requests for long.
use std::sync::Arc;

use actix::prelude::*;

use crate::sentiment::{polarity, Classifier, Prediction};

/// Longest reason read on the caller's thread. Reading one of the bench's reasons (~50 bytes)
/// cost a few microseconds with the English-only model, about what the two thread hand-offs
/// of sending it to the classifier's threads and back cost (context switches per sentiment
/// request 2.4 -> 1.7); a reason of up to 2,000 bytes cost tens of microseconds, which would
/// stall the other connections of an HTTP worker. Since reasons are read in four languages
/// (language detection, a larger vocabulary) a 50-byte reason costs 20-40 µs and a 500-byte
/// one about 100 µs on a busy two-core machine: this bound was not measured again since.
const READ_INLINE_MAX_BYTES: usize = 512;

/// What the model makes of one reason.
#[derive(Debug, Clone)]
pub struct Reading {
    pub prediction: Prediction,
    /// -1 (furious) to 1.
    pub sentiment: f64,
}

fn read(model: &Classifier, text: &str) -> Reading {
    let sentiment = polarity(text);
    Reading {
        prediction: model.classify_with_polarity(text, sentiment),
        sentiment,
    }
}

/// Reads reasons, inline or on the classifier's threads by their length.
#[derive(Clone)]
pub struct ReasonReader {
    model: Arc<Classifier>,
    classifier: Addr<ReasonClassifier>,
}

impl ReasonReader {
    /// Starts the classifier's threads, one per core.
    pub fn start(model: Arc<Classifier>) -> ReasonReader {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let shared = model.clone();
        let classifier = SyncArbiter::start(threads, move || ReasonClassifier {
            model: shared.clone(),
        });
        ReasonReader { model, classifier }
    }

    pub async fn read(&self, text: &str) -> anyhow::Result<Reading> {
        if text.len() <= READ_INLINE_MAX_BYTES {
            return Ok(read(&self.model, text));
        }
        self.classifier
            .send(Classify(text.to_owned()))
            .await
            .map_err(|e| anyhow::anyhow!("reason classifier unavailable: {e}"))
    }
}

pub struct ReasonClassifier {
    model: Arc<Classifier>,
}

impl Actor for ReasonClassifier {
    type Context = SyncContext<Self>;
}

#[derive(Message)]
#[rtype(result = "Reading")]
struct Classify(String);

impl Handler<Classify> for ReasonClassifier {
    type Result = MessageResult<Classify>;

    fn handle(&mut self, Classify(text): Classify, _: &mut Self::Context) -> Self::Result {
        MessageResult(read(&self.model, &text))
    }
}
