//! The classifier's hyper-parameters, and how negated words become features.

/// How negated words are represented as unigram features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NegationMode {
    /// Ignore negation: "not expensive" yields the unigram "expensive".
    Off,
    /// Replace words in a negation scope by `NOT_word`.
    Prefix,
    /// Emit both `word` and `NOT_word` for words in a negation scope.
    PrefixAndRaw,
}

/// Hyper-parameters of [`Classifier::train_with`](super::Classifier::train_with). The defaults were chosen
/// by cross-validation on the training split only.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingConfig {
    /// Passes over the training data.
    pub epochs: usize,
    /// AdaGrad base step size.
    pub learning_rate: f64,
    /// L2 penalty applied to the weights of the active features.
    pub l2: f64,
    /// Folds of the out-of-fold predictions used to fit the temperature
    /// (values below 2 disable calibration, i.e. temperature 1).
    pub calibration_folds: usize,
    /// Seed of the example shuffling; training is fully deterministic.
    pub seed: u64,
    pub negation: NegationMode,
    /// How many words after a negator are marked as negated.
    pub negation_scope: usize,
    pub unigram_weight: f64,
    pub bigram_weight: f64,
    /// Weight of every character n-gram (there are many per word).
    pub char_ngram_weight: f64,
    pub char_ngram_min: usize,
    pub char_ngram_max: usize,
    /// Weight of style features: exclamations, capitals, length, polarity.
    pub style_weight: f64,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 8,
            learning_rate: 1.5,
            l2: 3e-3,
            calibration_folds: 5,
            seed: 0x5a7e_100b,
            negation: NegationMode::PrefixAndRaw,
            negation_scope: 3,
            unigram_weight: 1.0,
            bigram_weight: 0.7,
            char_ngram_weight: 0.35,
            char_ngram_min: 3,
            char_ngram_max: 5,
            style_weight: 0.5,
        }
    }
}
