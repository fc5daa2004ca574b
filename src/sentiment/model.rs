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
//! at inference). Action probabilities are temperature-scaled; the
//! temperature is fitted on out-of-fold predictions inside the training set.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::ops::Range;

use super::corpus::{Example, FNV_OFFSET, FNV_PRIME};
use super::polarity::polarity;
use super::SuggestedAction;

const ACTION_COUNT: usize = SuggestedAction::ALL.len();

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

/// Hyper-parameters of [`Classifier::train_with`]. The defaults were chosen
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
    /// Category names, sorted by (action, name): each action's categories
    /// form the contiguous range `category_ranges[action.index()]`.
    categories: Vec<String>,
    category_ranges: [Range<usize>; ACTION_COUNT],
    /// Divides the action logits so that probabilities are calibrated.
    temperature: f64,
}

impl fmt::Debug for Classifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Classifier")
            .field("features", &self.vocabulary.len())
            .field("categories", &self.categories)
            .field("temperature", &self.temperature)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Classifier {
    /// Trains with [`TrainingConfig::default`].
    pub fn train(examples: &[Example]) -> Classifier {
        Self::train_with(examples, &TrainingConfig::default())
    }

    /// Trains on the training half of [`super::corpus::split`] of the embedded
    /// corpus: exactly the model whose held-out metrics are reported.
    pub fn from_embedded_corpus() -> Result<Classifier, String> {
        let examples = super::corpus::parse_tsv(super::corpus::CORPUS)?;
        let (train, _held_out) = super::corpus::split(&examples);
        Ok(Self::train(&train))
    }

    /// Trains both heads and fits the temperature by cross-validation inside
    /// `examples`. Deterministic for a given input and config.
    pub fn train_with(examples: &[Example], config: &TrainingConfig) -> Classifier {
        let raw_features: Vec<Vec<(u64, f64)>> = examples
            .iter()
            .map(|example| extract_features(&example.reason, config, polarity(&example.reason)))
            .collect();

        // Column indices in first-seen order keep training deterministic
        // (the map's iteration order is never used). Features seen only once
        // are kept: pruning them cost ~3 points of cross-validated accuracy,
        // rare words like "sabbatical" are exactly the informative ones.
        let mut vocabulary: Vocabulary = HashMap::default();
        for features in &raw_features {
            for &(key, _) in features {
                let next_index = vocabulary.len() as u32;
                vocabulary.entry(key).or_insert(next_index);
            }
        }
        let mut slot_of_column = vec![0; vocabulary.len()];
        let vectors: Vec<SparseVector> = raw_features
            .iter()
            .map(|features| index_features(features, &vocabulary, &mut slot_of_column))
            .collect();
        let feature_count = vocabulary.len();

        let (categories, category_ranges) = category_layout(examples);
        let action_targets: Vec<Target> = examples
            .iter()
            .map(|example| Target {
                class: example.action.index(),
                candidates: 0..ACTION_COUNT,
            })
            .collect();
        let category_targets: Vec<Target> = examples
            .iter()
            .map(|example| {
                let candidates = category_ranges[example.action.index()].clone();
                let class = candidates
                    .clone()
                    .find(|&index| categories[index] == example.category)
                    .unwrap_or(candidates.start);
                Target { class, candidates }
            })
            .collect();

        let all_examples: Vec<usize> = (0..examples.len()).collect();
        let temperature = fit_temperature(&vectors, &action_targets, feature_count, config);
        let action_head = SoftmaxHead::train(
            &vectors,
            &action_targets,
            &all_examples,
            feature_count,
            ACTION_COUNT,
            config,
        );
        let category_head = SoftmaxHead::train(
            &vectors,
            &category_targets,
            &all_examples,
            feature_count,
            categories.len(),
            config,
        );

        Classifier {
            config: config.clone(),
            vocabulary,
            action_head,
            category_head,
            categories,
            category_ranges,
            temperature,
        }
    }

    /// Classifies one free-text cancellation reason.
    pub fn classify(&self, text: &str) -> Prediction {
        self.classify_with_polarity(text, polarity(text))
    }

    /// `classify`, for a caller that has the text's `polarity` already (it is one of the
    /// model's features, and costs about as much as the rest of them together).
    pub fn classify_with_polarity(&self, text: &str, tone: f64) -> Prediction {
        let features = extract_features(text, &self.config, tone);
        let vector = CLASSIFY_SLOTS.with_borrow_mut(|slots| {
            let columns = self.vocabulary.len();
            if slots.len() < columns {
                slots.resize(columns, 0);
            }
            index_features(&features, &self.vocabulary, &mut slots[..columns])
        });

        let mut logits = self.action_head.logits(&vector, 0..ACTION_COUNT);
        for logit in &mut logits {
            *logit /= self.temperature;
        }
        let probabilities = softmax(&logits);
        let best_action = argmax(&probabilities);
        let mut action_probabilities = [0.0; ACTION_COUNT];
        action_probabilities.copy_from_slice(&probabilities);
        let action = SuggestedAction::ALL[best_action];

        let candidates = self.category_ranges[best_action].clone();
        let (category, category_confidence) = if candidates.is_empty() {
            // Only possible when the action had no training examples.
            (String::new(), 0.0)
        } else {
            let category_probabilities =
                softmax(&self.category_head.logits(&vector, candidates.clone()));
            let best = argmax(&category_probabilities);
            (
                self.categories[candidates.start + best].clone(),
                category_probabilities[best],
            )
        };

        Prediction {
            action,
            confidence: probabilities[best_action],
            category,
            category_confidence,
            probabilities: action_probabilities,
        }
    }

    /// The fitted temperature (> 1 softens, < 1 sharpens the raw model).
    pub fn temperature(&self) -> f64 {
        self.temperature
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

/// Sorted (action, category) pairs of the training data and, per action, the
/// index range of its categories.
fn category_layout(examples: &[Example]) -> (Vec<String>, [Range<usize>; ACTION_COUNT]) {
    let pairs: BTreeSet<(SuggestedAction, &str)> = examples
        .iter()
        .map(|example| (example.action, example.category.as_str()))
        .collect();
    let mut ranges: [Range<usize>; ACTION_COUNT] = Default::default();
    let mut categories = Vec::with_capacity(pairs.len());
    for action in SuggestedAction::ALL {
        let start = categories.len();
        categories.extend(
            pairs
                .iter()
                .filter(|(owner, _)| *owner == action)
                .map(|(_, category)| category.to_string()),
        );
        ranges[action.index()] = start..categories.len();
    }
    (categories, ranges)
}

// ---------------------------------------------------------------------------
// Softmax regression
// ---------------------------------------------------------------------------

/// Sparse feature vector: distinct (column, value) pairs in first-seen
/// order, L2-normalised.
type SparseVector = Vec<(u32, f64)>;

/// Training label plus the classes its softmax ranges over.
struct Target {
    class: usize,
    candidates: Range<usize>,
}

/// Linear softmax layer; `weights` is row-major `[feature][class]` so one
/// feature's class weights are contiguous.
#[derive(Clone)]
struct SoftmaxHead {
    classes: usize,
    weights: Vec<f64>,
    bias: Vec<f64>,
}

// The two hot loops below index plain slices with `while` counters instead of
// iterator chains: in unoptimised (debug) builds every iterator adapter is a
// real function call, which made training several times slower.
impl SoftmaxHead {
    /// Row-wise AdaGrad on the cross-entropy loss with L2: one step-size
    /// accumulator per feature (shared by its classes), visiting `subset` in
    /// a freshly shuffled (seeded) order each epoch.
    fn train(
        vectors: &[SparseVector],
        targets: &[Target],
        subset: &[usize],
        feature_count: usize,
        classes: usize,
        config: &TrainingConfig,
    ) -> SoftmaxHead {
        // A small initial accumulator keeps the very first steps bounded.
        const INITIAL_ACCUMULATOR: f64 = 0.1;
        let mut head = SoftmaxHead {
            classes,
            weights: vec![0.0; feature_count * classes],
            bias: vec![0.0; classes],
        };
        let mut feature_accumulators = vec![INITIAL_ACCUMULATOR; feature_count];
        let mut bias_accumulators = vec![INITIAL_ACCUMULATOR; classes];
        let mut logits = vec![0.0; classes];
        let mut gradient = vec![0.0; classes];
        let mut order = subset.to_vec();
        let mut rng = XorShift64::new(config.seed);
        let rate = config.learning_rate;
        let l2 = config.l2;

        for _ in 0..config.epochs {
            rng.shuffle(&mut order);
            for &example in &order {
                let vector = vectors[example].as_slice();
                let target = &targets[example];
                let first = target.candidates.start;
                let width = target.candidates.len();
                let logits = &mut logits[..width];
                head.logits_into(vector, first, logits);
                softmax_in_place(logits);

                let gradient = &mut gradient[..width];
                let bias = &mut head.bias[first..first + width];
                let bias_accumulators = &mut bias_accumulators[first..first + width];
                let mut mean_squared_gradient = 0.0;
                let mut c = 0;
                while c < width {
                    let truth = if first + c == target.class { 1.0 } else { 0.0 };
                    let g = logits[c] - truth;
                    gradient[c] = g;
                    mean_squared_gradient += g * g / width as f64;
                    bias_accumulators[c] += g * g;
                    bias[c] -= rate * g / bias_accumulators[c].sqrt();
                    c += 1;
                }

                let weights = head.weights.as_mut_slice();
                let feature_accumulators = feature_accumulators.as_mut_slice();
                for &(feature, value) in vector {
                    // The accumulator tracks the loss gradient of the row
                    // (value * gradient); leaving the small L2 term out of it
                    // lets the update run in a single pass.
                    let accumulator = &mut feature_accumulators[feature as usize];
                    *accumulator += value * value * mean_squared_gradient;
                    let step = rate / accumulator.sqrt();
                    let start = feature as usize * classes + first;
                    let mut c = 0;
                    while c < width {
                        let weight = &mut weights[start + c];
                        *weight -= step * (gradient[c] * value + l2 * *weight);
                        c += 1;
                    }
                }
            }
        }
        head
    }

    /// Raw scores of the `candidates` classes (in order).
    fn logits(&self, vector: &SparseVector, candidates: Range<usize>) -> Vec<f64> {
        let mut logits = vec![0.0; candidates.len()];
        self.logits_into(vector, candidates.start, &mut logits);
        logits
    }

    /// Writes the scores of classes `first..first + logits.len()`.
    fn logits_into(&self, vector: &[(u32, f64)], first: usize, logits: &mut [f64]) {
        let width = logits.len();
        logits.copy_from_slice(&self.bias[first..first + width]);
        let weights = self.weights.as_slice();
        for &(feature, value) in vector {
            let start = feature as usize * self.classes + first;
            let mut c = 0;
            while c < width {
                logits[c] += weights[start + c] * value;
                c += 1;
            }
        }
    }
}

/// Fits the temperature on out-of-fold action logits: each fold's examples
/// are scored by a head trained on the other folds with the same config.
fn fit_temperature(
    vectors: &[SparseVector],
    targets: &[Target],
    feature_count: usize,
    config: &TrainingConfig,
) -> f64 {
    let folds = config.calibration_folds;
    if folds < 2 || vectors.len() < 2 * folds {
        return 1.0;
    }
    let fold_of = stratified_folds(targets, folds, config.seed);
    let mut out_of_fold: Vec<(Vec<f64>, usize)> = Vec::with_capacity(vectors.len());
    for fold in 0..folds {
        let (validation, training): (Vec<usize>, Vec<usize>) =
            (0..vectors.len()).partition(|&index| fold_of[index] == fold);
        let head = SoftmaxHead::train(
            vectors,
            targets,
            &training,
            feature_count,
            ACTION_COUNT,
            config,
        );
        for index in validation {
            let target = &targets[index];
            out_of_fold.push((
                head.logits(&vectors[index], target.candidates.clone()),
                target.class - target.candidates.start,
            ));
        }
    }
    fit_temperature_to_logits(&out_of_fold)
}

/// Temperature minimising the log-loss of `softmax(logits / T)`. The loss is
/// convex in 1/T, so a golden-section search over ln(1/T) finds the optimum.
fn fit_temperature_to_logits(scored: &[(Vec<f64>, usize)]) -> f64 {
    let log_loss = |log_inverse_temperature: f64| -> f64 {
        let inverse_temperature = log_inverse_temperature.exp();
        scored
            .iter()
            .map(|(logits, truth)| {
                let scaled: Vec<f64> = logits.iter().map(|l| l * inverse_temperature).collect();
                log_sum_exp(&scaled) - scaled[*truth]
            })
            .sum()
    };
    let inverse_golden = (5f64.sqrt() - 1.0) / 2.0;
    // 1/T between 0.05 and 20 covers any sane miscalibration.
    let (mut low, mut high) = (0.05f64.ln(), 20f64.ln());
    let mut left = high - inverse_golden * (high - low);
    let mut right = low + inverse_golden * (high - low);
    let (mut left_loss, mut right_loss) = (log_loss(left), log_loss(right));
    // 40 golden-section steps shrink the bracket by a factor of ~2e8.
    for _ in 0..40 {
        if left_loss < right_loss {
            high = right;
            right = left;
            right_loss = left_loss;
            left = high - inverse_golden * (high - low);
            left_loss = log_loss(left);
        } else {
            low = left;
            left = right;
            left_loss = right_loss;
            right = low + inverse_golden * (high - low);
            right_loss = log_loss(right);
        }
    }
    1.0 / ((low + high) / 2.0).exp()
}

/// Assigns each example a fold so every class is spread evenly over folds,
/// in a seeded random order.
fn stratified_folds(targets: &[Target], folds: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..targets.len()).collect();
    XorShift64::new(seed ^ 0x00f0_1d5e_ed00).shuffle(&mut order);
    // Stable sort by class keeps the shuffled order inside each class.
    order.sort_by_key(|&index| targets[index].class);
    let mut fold_of = vec![0; targets.len()];
    for (position, index) in order.into_iter().enumerate() {
        fold_of[index] = position % folds;
    }
    fold_of
}

fn log_sum_exp(values: &[f64]) -> f64 {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + values.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
}

fn softmax(logits: &[f64]) -> Vec<f64> {
    let mut probabilities = logits.to_vec();
    softmax_in_place(&mut probabilities);
    probabilities
}

fn softmax_in_place(values: &mut [f64]) {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for value in values.iter_mut() {
        *value = (*value - max).exp();
        total += *value;
    }
    for value in values.iter_mut() {
        *value /= total;
    }
}

/// Index of the largest value; the first one wins ties.
fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (index, value) in values.iter().enumerate() {
        if *value > values[best] {
            best = index;
        }
    }
    best
}

/// Marsaglia's xorshift64: tiny, deterministic, good enough for shuffling.
struct XorShift64(u64);

impl XorShift64 {
    fn new(seed: u64) -> Self {
        // The all-zero state is a fixed point; avoid it.
        Self(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Fisher–Yates shuffle.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for last in (1..items.len()).rev() {
            let pick = (self.next_u64() % (last as u64 + 1)) as usize;
            items.swap(last, pick);
        }
    }
}

// ---------------------------------------------------------------------------
// Feature extraction
// ---------------------------------------------------------------------------

/// Feature namespaces keep e.g. the word "bug" and the char n-gram "bug"
/// apart after hashing.
const UNIGRAM: u8 = b'w';
const BIGRAM: u8 = b'b';
const CHAR_NGRAM: u8 = b'c';
const STYLE: u8 = b's';

/// A word after normalisation, and whether it sits in a negation scope.
struct Word {
    text: String,
    negated: bool,
}

/// Words split into clauses at punctuation (negation and bigrams stop there).
fn tokenize(text: &str, config: &TrainingConfig) -> Vec<Vec<Word>> {
    let normalized = normalize(text);
    let mut clauses = Vec::new();
    let mut clause: Vec<Word> = Vec::new();
    let mut negation_left = 0;
    let mut current = String::new();

    let push_word = |raw: &str, clause: &mut Vec<Word>, negation_left: &mut usize| {
        for word in expand_word(raw) {
            if word == "but" || word == "however" || word == "although" || word == "though" {
                *negation_left = 0;
            }
            if is_negator(&word) {
                *negation_left = config.negation_scope;
                clause.push(Word {
                    text: word,
                    negated: false,
                });
            } else {
                let negated = *negation_left > 0;
                *negation_left = negation_left.saturating_sub(1);
                clause.push(Word {
                    text: word,
                    negated,
                });
            }
        }
    };

    for c in normalized.chars() {
        if c.is_alphanumeric() || c == '\'' || c == '*' {
            current.push(c);
            continue;
        }
        if !current.is_empty() {
            push_word(&current, &mut clause, &mut negation_left);
            current.clear();
        }
        match c {
            '$' | '€' | '£' => push_word("$", &mut clause, &mut negation_left),
            '.' | ',' | ';' | ':' | '!' | '?' | '(' | ')' | '\n' => {
                negation_left = 0;
                if !clause.is_empty() {
                    clauses.push(std::mem::take(&mut clause));
                }
            }
            _ => {}
        }
    }
    if !current.is_empty() {
        push_word(&current, &mut clause, &mut negation_left);
    }
    if !clause.is_empty() {
        clauses.push(clause);
    }
    clauses
}

/// Lowercases, unifies apostrophes and squeezes letters repeated 3+ times
/// ("sooo slooow" -> "soo sloow") so elongations share features.
fn normalize(text: &str) -> String {
    let mut normalized = String::with_capacity(text.len());
    let mut previous = None;
    let mut run = 0;
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = match c {
            '’' | '‘' | '`' | '´' => '\'',
            other => other,
        };
        if Some(c) == previous {
            run += 1;
        } else {
            run = 1;
            previous = Some(c);
        }
        if run <= 2 || !c.is_alphabetic() {
            normalized.push(c);
        }
    }
    normalized
}

/// Splits contractions ("don't" -> "do not") and maps chat spellings and
/// common typos to their standard form. Digits collapse to one token.
fn expand_word(raw: &str) -> Vec<String> {
    let word = raw.trim_matches('\'');
    if word.is_empty() {
        return Vec::new();
    }
    if word.chars().all(|c| c.is_ascii_digit()) {
        return vec!["#num".to_string()];
    }
    if let Some(stem) = word.strip_suffix("n't") {
        let stem = match stem {
            "ca" => "can",
            "wo" => "will",
            "sha" => "shall",
            "ai" => "is",
            other => other,
        };
        return vec![stem.to_string(), "not".to_string()];
    }
    for (suffix, expansion) in [
        ("'ll", "will"),
        ("'re", "are"),
        ("'m", "am"),
        ("'ve", "have"),
        ("'d", "would"),
        ("'s", ""),
    ] {
        if let Some(stem) = word.strip_suffix(suffix) {
            let mut words = vec![stem.replace('\'', "")];
            if !expansion.is_empty() {
                words.push(expansion.to_string());
            }
            return words;
        }
    }
    let word = word.replace('\'', "");
    match respelling(&word) {
        Some(expansion) => expansion.split(' ').map(str::to_string).collect(),
        None => vec![word],
    }
}

/// Chat spellings, missing apostrophes and frequent typos.
fn respelling(word: &str) -> Option<&'static str> {
    Some(match word {
        "dont" => "do not",
        "cant" => "can not",
        "cannot" => "can not",
        "wont" => "will not",
        "didnt" => "did not",
        "doesnt" => "does not",
        "isnt" => "is not",
        "wasnt" => "was not",
        "arent" => "are not",
        "werent" => "were not",
        "couldnt" | "cudnt" | "coudnt" => "could not",
        "wouldnt" => "would not",
        "shouldnt" => "should not",
        "havent" => "have not",
        "hasnt" => "has not",
        "aint" => "is not",
        "im" => "i am",
        "ive" => "i have",
        "youre" => "you are",
        "theyre" => "they are",
        "thats" => "that is",
        "u" => "you",
        "r" => "are",
        "ur" => "your",
        "pls" | "plz" => "please",
        "rn" => "right now",
        "idk" => "i do not know",
        "thx" | "tnx" => "thanks",
        "biz" => "business",
        "enuf" => "enough",
        "cuz" | "coz" | "bc" | "becuase" | "becasue" => "because",
        "tho" => "though",
        "gonna" => "going to",
        "wanna" => "want to",
        "gotta" => "got to",
        "til" | "till" => "until",
        "szn" => "season",
        "vacay" => "vacation",
        "proj" => "project",
        "brb" => "be right back",
        "expensiv" | "expencive" | "expesive" | "expnsive" | "exspensive" => "expensive",
        "pricy" => "pricey",
        "bussiness" | "buisness" | "busines" | "buissness" => "business",
        "cancell" | "cancle" => "cancel",
        "acount" | "accout" => "account",
        "usefull" => "useful",
        "confussing" | "confusin" => "confusing",
        "complicted" | "complciated" => "complicated",
        "recieve" => "receive",
        "definately" | "defo" | "def" => "definitely",
        "seperate" => "separate",
        "teh" => "the",
        "crashin" => "crashing",
        "sux" => "sucks",
        "workin" => "working",
        "nothin" => "nothing",
        "nt" => "not",
        _ => return None,
    })
}

fn is_negator(word: &str) -> bool {
    matches!(
        word,
        "not" | "no" | "never" | "without" | "nothing" | "nobody" | "none" | "neither" | "nor"
    )
}

/// Hashed, weighted features of one text. Keys may repeat; repeated keys add
/// up in [`index_features`].
fn extract_features(text: &str, config: &TrainingConfig, tone: f64) -> Vec<(u64, f64)> {
    let clauses = tokenize(text, config);
    let mut features = Vec::new();

    for (clause_index, clause) in clauses.iter().enumerate() {
        for word in clause {
            let raw_unigram = (feature_key(UNIGRAM, &[&word.text]), config.unigram_weight);
            match (word.negated, config.negation) {
                (false, _) | (true, NegationMode::Off) => features.push(raw_unigram),
                (true, NegationMode::Prefix) => features.push((
                    feature_key(UNIGRAM, &["NOT_", &word.text]),
                    config.unigram_weight,
                )),
                (true, NegationMode::PrefixAndRaw) => {
                    features.push(raw_unigram);
                    features.push((
                        feature_key(UNIGRAM, &["NOT_", &word.text]),
                        config.unigram_weight,
                    ));
                }
            }
            push_char_ngrams(&word.text, config, &mut features);
        }

        // Bigrams stay inside a clause; the text start is a pseudo-word so
        // openings like "<s> closing" are features too.
        if config.bigram_weight > 0.0 {
            let start = if clause_index == 0 { "<s>" } else { "<c>" };
            let mut previous = start;
            for word in clause {
                features.push((
                    feature_key(BIGRAM, &[previous, " ", &word.text]),
                    config.bigram_weight,
                ));
                previous = &word.text;
            }
        }
    }

    if config.style_weight > 0.0 {
        for style in style_features(text, &clauses, tone) {
            features.push((feature_key(STYLE, &[style]), config.style_weight));
        }
    }
    features
}

/// Character n-grams of `<word>` (with boundary markers). Numbers and words
/// under four letters are skipped: their n-grams would only repeat the
/// unigram, and they are a large share of all tokens.
fn push_char_ngrams(word: &str, config: &TrainingConfig, features: &mut Vec<(u64, f64)>) {
    if config.char_ngram_weight <= 0.0 || word.starts_with('#') || word.chars().count() < 4 {
        return;
    }
    let padded: Vec<char> = std::iter::once('<')
        .chain(word.chars())
        .chain(std::iter::once('>'))
        .collect();
    for size in config.char_ngram_min..=config.char_ngram_max {
        for window in padded.windows(size) {
            let mut hash = namespace_hash(CHAR_NGRAM);
            let mut utf8 = [0; 4];
            for c in window {
                for &byte in c.encode_utf8(&mut utf8).as_bytes() {
                    hash = (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
                }
            }
            features.push((hash, config.char_ngram_weight));
        }
    }
}

/// Coarse signals of tone and length: rants are short, loud and negative.
fn style_features(text: &str, clauses: &[Vec<Word>], tone: f64) -> Vec<&'static str> {
    let mut styles = Vec::new();
    let word_count: usize = clauses.iter().map(Vec::len).sum();
    styles.push(match word_count {
        0..=3 => "len:short",
        4..=12 => "len:medium",
        13..=30 => "len:long",
        _ => "len:very_long",
    });
    if text.matches('!').count() >= 2 || text.contains("?!") {
        styles.push("exclaim");
    }
    let shouted = text
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 3 && !w.chars().any(char::is_lowercase))
        .count();
    if shouted >= 1 {
        styles.push("shouting");
    }
    styles.push(if tone <= -0.6 {
        "tone:furious"
    } else if tone <= -0.25 {
        "tone:negative"
    } else if tone >= 0.25 {
        "tone:positive"
    } else {
        "tone:neutral"
    });
    styles
}

/// Feature hash -> dense column index.
type Vocabulary = HashMap<u64, u32, PrehashedKey>;

/// Feature keys are already FNV-1a hashes, so the map can use them as they
/// are instead of re-hashing with SipHash.
#[derive(Clone, Copy, Default)]
struct PrehashedKey;

impl BuildHasher for PrehashedKey {
    type Hasher = PrehashedHasher;

    fn build_hasher(&self) -> PrehashedHasher {
        PrehashedHasher(0)
    }
}

struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached for non-u64 keys, which the vocabulary never uses.
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// FNV-1a over a namespace byte and the concatenated parts.
fn feature_key(namespace: u8, parts: &[&str]) -> u64 {
    let mut hash = namespace_hash(namespace);
    for part in parts {
        for &byte in part.as_bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    }
    hash
}

/// FNV-1a state after hashing the namespace byte.
fn namespace_hash(namespace: u8) -> u64 {
    (FNV_OFFSET ^ u64::from(namespace)).wrapping_mul(FNV_PRIME)
}

thread_local! {
    /// `index_features`' scratch for `classify`, as long as the largest vocabulary this
    /// thread has used and all zeros between calls: allocating and zeroing a new one for
    /// each reason was a fifth of a sentiment request's instructions (callgrind).
    static CLASSIFY_SLOTS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

/// Maps hashed features to column indices (dropping unknown ones), sums
/// repeated features and L2-normalises. The norm is taken over all features,
/// known or not, so text full of unseen words yields small, unsure logits.
///
/// `slot_of_column` must be all zeros and as long as the vocabulary; it is
/// left all zeros again. It remembers where each column already sits in the
/// vector, which merges duplicates in linear time (sorting every vector was
/// the slowest part of training in debug builds).
fn index_features(
    features: &[(u64, f64)],
    vocabulary: &Vocabulary,
    slot_of_column: &mut [u32],
) -> SparseVector {
    let mut vector: SparseVector = Vec::with_capacity(features.len());
    let mut unknown: Vec<(u64, f64)> = Vec::new();
    for &(key, value) in features {
        let Some(&column) = vocabulary.get(&key) else {
            unknown.push((key, value));
            continue;
        };
        let slot = &mut slot_of_column[column as usize];
        if *slot == 0 {
            vector.push((column, value));
            *slot = vector.len() as u32;
        } else {
            vector[*slot as usize - 1].1 += value;
        }
    }
    for &(column, _) in &vector {
        slot_of_column[column as usize] = 0;
    }

    unknown.sort_unstable_by_key(|&(key, _)| key);
    let squared_norm = vector.iter().map(|(_, value)| value * value).sum::<f64>()
        + merge_sorted(unknown.into_iter())
            .map(|(_, value)| value * value)
            .sum::<f64>();
    if squared_norm == 0.0 {
        return Vec::new();
    }
    let norm = squared_norm.sqrt();
    for (_, value) in &mut vector {
        *value /= norm;
    }
    vector
}

/// Sums the values of adjacent equal keys of a key-sorted sequence.
fn merge_sorted<K: PartialEq + Copy>(
    sorted: impl Iterator<Item = (K, f64)>,
) -> impl Iterator<Item = (K, f64)> {
    let mut sorted = sorted.peekable();
    std::iter::from_fn(move || {
        let (key, mut value) = sorted.next()?;
        while let Some(&(next_key, next_value)) = sorted.peek() {
            if next_key != key {
                break;
            }
            value += next_value;
            sorted.next();
        }
        Some((key, value))
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_fixture;
    use super::*;

    fn words(text: &str) -> Vec<String> {
        tokenize(text, &TrainingConfig::default())
            .into_iter()
            .flatten()
            .map(|w| {
                if w.negated {
                    format!("NOT_{}", w.text)
                } else {
                    w.text
                }
            })
            .collect()
    }

    #[test]
    fn classifier_is_plain_shareable_data() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Classifier>();
        assert_send_sync::<Prediction>();
    }

    #[test]
    fn negation_scope_stops_at_punctuation() {
        assert_eq!(
            words("not too expensive, we just never use it"),
            [
                "not",
                "NOT_too",
                "NOT_expensive",
                "we",
                "just",
                "never",
                "NOT_use",
                "NOT_it"
            ]
        );
        assert_eq!(
            words("I don't like it but it works"),
            ["i", "do", "not", "NOT_like", "NOT_it", "but", "it", "works"]
        );
    }

    #[test]
    fn normalisation_handles_elongation_slang_and_typos() {
        assert_eq!(words("Sooo 2 EXPENSIV!!!"), ["soo", "#num", "expensive"]);
        assert_eq!(words("lol we r broke"), ["lol", "we", "are", "broke"]);
        assert_eq!(words("cant login"), ["can", "not", "NOT_login"]);
        assert_eq!(words("We’re out"), ["we", "are", "out"]);
    }

    #[test]
    fn degenerate_training_sets_do_not_panic() {
        let empty = Classifier::train(&[]);
        let prediction = empty.classify("too expensive");
        assert!(prediction
            .probabilities
            .iter()
            .all(|p| (p - 0.2).abs() < 1e-12));
        assert_eq!(empty.temperature(), 1.0);

        let single = Classifier::train(&[Example {
            action: SuggestedAction::Pause,
            category: "break".to_string(),
            reason: "taking a break".to_string(),
        }]);
        let prediction = single.classify("taking a long break");
        assert_eq!(prediction.action, SuggestedAction::Pause);
        assert_eq!(prediction.category, "break");
        assert_eq!(single.classify("").action, SuggestedAction::Pause);
    }

    #[test]
    fn softmax_and_temperature_fit_behave() {
        let probabilities = softmax(&[1.0, 2.0, 3.0]);
        assert!((probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(argmax(&probabilities), 2);

        // Logits that are right 75% of the time with a huge margin are
        // overconfident: the fitted temperature must soften them (T > 1).
        let scored: Vec<(Vec<f64>, usize)> = (0..100)
            .map(|i| (vec![10.0, 0.0], if i % 4 == 0 { 1 } else { 0 }))
            .collect();
        let temperature = fit_temperature_to_logits(&scored);
        let calibrated = softmax(&[10.0 / temperature, 0.0])[0];
        assert!((calibrated - 0.75).abs() < 0.01, "{calibrated}");
    }

    #[test]
    fn training_is_deterministic() {
        let (model, train, _) = test_fixture();
        let small: Vec<Example> = train.iter().step_by(4).cloned().collect();
        let config = TrainingConfig {
            epochs: 3,
            ..TrainingConfig::default()
        };
        let first = Classifier::train_with(&small, &config);
        let second = Classifier::train_with(&small, &config);
        let text = "too expensive and the app is slow";
        assert_eq!(first.classify(text), second.classify(text));
        assert_eq!(first.temperature(), second.temperature());
        assert!(model.feature_count() > first.feature_count());
    }

    #[test]
    fn predictions_are_well_formed() {
        let (model, _, _) = test_fixture();
        for text in ["", "???", "too pricey", "xqzv blorf"] {
            let prediction = model.classify(text);
            let total: f64 = prediction.probabilities.iter().sum();
            assert!((total - 1.0).abs() < 1e-9, "{text}: {total}");
            assert_eq!(
                prediction.confidence,
                prediction.probabilities[prediction.action.index()]
            );
            assert!(prediction
                .action
                .categories()
                .contains(&prediction.category.as_str()));
            assert!((0.0..=1.0).contains(&prediction.category_confidence));
        }
        assert!(model.temperature().is_finite() && model.temperature() > 0.0);
    }

    #[test]
    fn clear_reasons_get_the_expected_action_and_category() {
        let (model, _, _) = test_fixture();
        let cases = [
            (
                "way too expensive for us",
                SuggestedAction::Discount,
                "price",
            ),
            (
                "we're a ski school and it's the off season",
                SuggestedAction::Pause,
                "seasonal",
            ),
            (
                "the app crashes every time I open it",
                SuggestedAction::Support,
                "bug",
            ),
            (
                "we are closing the business for good",
                SuggestedAction::None,
                "business_closed",
            ),
            (
                "we never finished the setup, the integration was too hard",
                SuggestedAction::SetupCall,
                "onboarding",
            ),
        ];
        for (text, action, category) in cases {
            let prediction = model.classify(text);
            assert_eq!(prediction.action, action, "{text}: {prediction:?}");
            assert_eq!(prediction.category, category, "{text}: {prediction:?}");
        }
    }

    #[test]
    fn negated_price_complaints_are_not_discounts() {
        let (model, _, _) = test_fixture();
        let cases = [
            (
                "not too expensive, we just never use it",
                SuggestedAction::SetupCall,
            ),
            (
                "it isn't the cost at all, honestly our staff just never log in",
                SuggestedAction::SetupCall,
            ),
            (
                "price is fine but the app keeps crashing",
                SuggestedAction::Support,
            ),
        ];
        for (text, expected) in cases {
            let prediction = model.classify(text);
            assert_ne!(prediction.action, SuggestedAction::Discount, "{text}");
            assert_eq!(prediction.action, expected, "{text}: {prediction:?}");
        }
        assert_eq!(
            model.classify("I'll be back in spring").action,
            SuggestedAction::Pause
        );
    }
}
