//! ReasonClassifier: runs the sentiment model on its own threads (a SyncArbiter), so that
//! classifying text never blocks an arbiter that serves requests.
use std::sync::Arc;

use actix::prelude::*;

use crate::sentiment::{polarity, Classifier, Prediction};

pub struct ReasonClassifier {
    pub model: Arc<Classifier>,
}

impl Actor for ReasonClassifier {
    type Context = SyncContext<Self>;
}

/// What the model makes of one reason.
#[derive(Debug, Clone)]
pub struct Reading {
    pub prediction: Prediction,
    /// -1 (furious) to 1.
    pub sentiment: f64,
}

#[derive(Message)]
#[rtype(result = "Reading")]
pub struct Classify(pub String);

impl Handler<Classify> for ReasonClassifier {
    type Result = MessageResult<Classify>;

    fn handle(&mut self, Classify(text): Classify, _: &mut Self::Context) -> Self::Result {
        MessageResult(Reading {
            prediction: self.model.classify(&text),
            sentiment: polarity(&text),
        })
    }
}
