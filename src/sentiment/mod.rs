//! Cancellation-reason understanding for save offers.
//!
//! When a customer types why they are cancelling, in English, German, French or Spanish,
//! [`Classifier`] maps the free text to the [`SuggestedAction`] most likely to save them
//! (plus a finer reason category and the [`Language`] it is written in), and [`polarity`]
//! scores how angry the text sounds. Everything but language detection (`whatlang`) is
//! plain `std` Rust, and the model trains in about a second from the hand-labelled corpora
//! embedded in [`corpus::CORPORA`].

pub mod corpus;
pub mod evaluation;
pub mod language;
pub mod model;
pub mod polarity;
mod text;

use std::fmt;

pub use corpus::{embedded_corpus, parse_tsv, split, Example, CORPORA};
pub use evaluation::{evaluate, evaluate_by_language, CalibrationBin, ClassMetrics, Evaluation};
pub use language::{detect as detect_language, Language};
pub use model::{Classifier, NegationMode, Prediction, TrainingConfig};
pub use polarity::polarity;

/// The save action Saveloops proposes for a cancellation reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SuggestedAction {
    /// Price, budget or value objections: offer a discount.
    Discount,
    /// Temporary absence (seasonal, break, project on hold): offer a pause.
    Pause,
    /// Never set up, too complex or unused: offer an onboarding call.
    SetupCall,
    /// Product or service problems: route to support.
    Support,
    /// Nothing will save this customer (closed, acquired, compliance...).
    None,
}

impl SuggestedAction {
    /// Every action, in the order used for probability vectors and matrices.
    pub const ALL: [Self; 5] = [
        Self::Discount,
        Self::Pause,
        Self::SetupCall,
        Self::Support,
        Self::None,
    ];

    /// Stable wire/corpus name of the action.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Discount => "discount",
            Self::Pause => "pause",
            Self::SetupCall => "setup_call",
            Self::Support => "support",
            Self::None => "none",
        }
    }

    /// Parses a wire/corpus name (surrounding whitespace and case ignored).
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim();
        Self::ALL
            .into_iter()
            .find(|action| action.as_str().eq_ignore_ascii_case(name))
    }

    /// Position of the action in [`SuggestedAction::ALL`].
    pub fn index(self) -> usize {
        match self {
            Self::Discount => 0,
            Self::Pause => 1,
            Self::SetupCall => 2,
            Self::Support => 3,
            Self::None => 4,
        }
    }

    /// The reason categories that belong to this action in the corpus.
    pub fn categories(self) -> &'static [&'static str] {
        match self {
            Self::Discount => &["price", "budget", "value", "competitor"],
            Self::Pause => &["seasonal", "break", "project_on_hold"],
            Self::SetupCall => &["onboarding", "complexity", "low_usage"],
            Self::Support => &[
                "bug",
                "outage",
                "data_loss",
                "performance",
                "missing_feature",
                "bad_support",
                "anger",
            ],
            Self::None => &[
                "business_closed",
                "acquired",
                "duplicate_account",
                "personal",
                "in_house",
                "project_finished",
                "compliance",
            ],
        }
    }
}

impl fmt::Display for SuggestedAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A model trained once on the training split, shared by the tests of all
/// submodules so the (debug-build) training cost is paid only once.
#[cfg(test)]
pub(crate) fn test_fixture() -> &'static (Classifier, Vec<Example>, Vec<Example>) {
    use std::sync::OnceLock;
    static FIXTURE: OnceLock<(Classifier, Vec<Example>, Vec<Example>)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let examples = embedded_corpus().expect("embedded corpora parse");
        let (train, held_out) = split(&examples);
        (Classifier::train(&train), train, held_out)
    })
}

/// The model the service serves: trained once per process from the embedded corpus's
/// training split (the same model `saveloops sentiment eval` measures), then shared.
pub fn shared_model() -> Result<std::sync::Arc<Classifier>, String> {
    static MODEL: std::sync::OnceLock<Result<std::sync::Arc<Classifier>, String>> =
        std::sync::OnceLock::new();
    MODEL
        .get_or_init(|| Classifier::from_embedded_corpus().map(std::sync::Arc::new))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip() {
        for action in SuggestedAction::ALL {
            assert_eq!(SuggestedAction::parse(action.as_str()), Some(action));
            assert_eq!(SuggestedAction::ALL[action.index()], action);
        }
        assert_eq!(
            SuggestedAction::parse(" Setup_Call "),
            Some(SuggestedAction::SetupCall)
        );
        assert_eq!(SuggestedAction::parse("refund"), None);
    }

    #[test]
    fn categories_are_unique_across_actions() {
        let mut seen = std::collections::BTreeSet::new();
        for action in SuggestedAction::ALL {
            for category in action.categories() {
                assert!(seen.insert(*category), "{category} listed twice");
            }
        }
    }
}
