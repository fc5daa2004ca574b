//! Multinomial logistic regression over hashed text features.
//!
//! Features are word unigrams (with negation scopes marked), word bigrams and
//! character 3–5-grams inside word boundaries, plus a few style signals. Each
//! feature string is hashed with FNV-1a to a 64-bit key and the keys seen in
//! training get a dense column index, so the model holds weights only for
//! features that exist (no collisions, a few MB at most).
//!
//! Two softmax heads share the features: one over the five actions and one
//! over reason categories, whose softmax is always restricted to the
//! categories of a single action (the true one in training, the predicted one
//! at inference). Action probabilities are temperature-scaled, with one
//! temperature per language (the detected one at inference) fitted on
//! out-of-fold predictions inside the training set.
//!
//! One model reads German, French and Spanish, trained on all four corpora: their
//! words hardly overlap, what they share (product words in English, cognates) helps,
//! and it reads mixed text ("das Dashboard ist zu slow") as it comes. Reasons
//! detected as English are read by a second model trained on the English corpus
//! alone, which reads English about a point of macro-F1 better.
//!
//! One file per concern: the configuration, tokenizing, feature extraction, the vocabulary
//! of feature columns, the softmax heads, temperature calibration, training and prediction.

mod calibration;
mod compounds;
mod config;
mod features;
mod prediction;
mod softmax;
mod tokens;
mod training;
mod vocabulary;
mod xorshift;

use std::fmt;
use std::ops::Range;

use super::{Language, SuggestedAction};
use softmax::SoftmaxHead;
use vocabulary::Vocabulary;

pub use config::{NegationMode, TrainingConfig};

const ACTION_COUNT: usize = SuggestedAction::ALL.len();
const LANGUAGE_COUNT: usize = Language::ALL.len();

/// The classifier's answer for one cancellation reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The most probable action.
    pub action: SuggestedAction,
    /// Calibrated probability of `action`.
    pub confidence: f64,
    /// Most probable reason category among those of `action` (empty only if
    /// the model was trained without any example of `action`).
    pub category: String,
    /// Probability of `category` given `action` (renormalised over the
    /// action's categories; not temperature-calibrated).
    pub category_confidence: f64,
    /// Calibrated probabilities, indexed like [`SuggestedAction::ALL`].
    pub probabilities: [f64; ACTION_COUNT],
    /// The language the reason is written in (detected; English when it cannot be told).
    pub language: Language,
}

/// A trained cancellation-reason classifier. Plain data: `Send + Sync`,
/// cheap to share behind an `Arc`.
#[derive(Clone)]
pub struct Classifier {
    config: TrainingConfig,
    /// Feature hash -> column index into the heads' weight matrices.
    vocabulary: Vocabulary,
    action_head: SoftmaxHead,
    category_head: SoftmaxHead,
    /// Over [`Language::ALL`], trained on the corpora's languages: asked when `whatlang` is
    /// unsure (short reasons).
    language_head: SoftmaxHead,
    /// Category names, sorted by (action, name): each action's categories
    /// form the contiguous range `category_ranges[action.index()]`.
    categories: Vec<String>,
    category_ranges: [Range<usize>; ACTION_COUNT],
    /// Divides the action logits so that probabilities are calibrated: fitted on all
    /// languages, and per language (indexed like [`Language::ALL`]; what `classify` uses).
    temperature: f64,
    temperatures: [f64; LANGUAGE_COUNT],
    /// Reads the reasons detected as English, when the training data had English and other
    /// languages: a model trained on the English corpus alone, as before the other
    /// languages came. Sharing the model with them helps German, French and Spanish
    /// (each is read better than by a model of its own corpus alone) but cost English about
    /// a point of macro-F1.
    english: Option<Box<Classifier>>,
}

impl fmt::Debug for Classifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Classifier")
            .field("features", &self.vocabulary.len())
            .field("categories", &self.categories)
            .field("temperature", &self.temperature)
            .field("temperatures", &self.temperatures)
            .field("english_model", &self.english.is_some())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Classifier {
    /// The fitted temperature (> 1 softens, < 1 sharpens the raw model).
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// The temperature of reasons detected as `language`.
    pub fn temperature_of(&self, language: Language) -> f64 {
        match &self.english {
            Some(english) if language == Language::English => english.temperature_of(language),
            _ => self.temperatures[language.index()],
        }
    }

    /// Number of distinct features seen in training.
    pub fn feature_count(&self) -> usize {
        self.vocabulary.len()
    }

    /// The configuration the model was trained with.
    pub fn config(&self) -> &TrainingConfig {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifier_is_plain_shareable_data() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Classifier>();
        assert_send_sync::<Prediction>();
    }
}
