//! Training: features of the corpus, the two softmax heads, and the category layout they share.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use super::calibration::fit_temperatures;
use super::features::extract_features;
use super::softmax::{SoftmaxHead, Target};
use super::vocabulary::{index_features, SparseVector, Vocabulary};
use super::{Classifier, TrainingConfig, ACTION_COUNT, LANGUAGE_COUNT};
use crate::sentiment::corpus::Example;
use crate::sentiment::polarity::polarity;
use crate::sentiment::{Language, SuggestedAction};

impl Classifier {
    /// Trains with [`TrainingConfig::default`].
    pub fn train(examples: &[Example]) -> Classifier {
        Self::train_with(examples, &TrainingConfig::default())
    }

    /// Trains on the training half of [`crate::sentiment::corpus::split`] of the embedded
    /// corpora (all four languages): exactly the model whose held-out metrics are reported.
    pub fn from_embedded_corpus() -> Result<Classifier, String> {
        let examples = crate::sentiment::corpus::embedded_corpus()?;
        let (train, _held_out) = crate::sentiment::corpus::split(&examples);
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
        let languages: Vec<usize> = examples
            .iter()
            .map(|example| example.language.index())
            .collect();
        let (temperature, temperatures) =
            fit_temperatures(&vectors, &action_targets, &languages, feature_count, config);
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
        let language_targets: Vec<Target> = languages
            .iter()
            .map(|&class| Target {
                class,
                candidates: 0..LANGUAGE_COUNT,
            })
            .collect();
        let language_head = SoftmaxHead::train(
            &vectors,
            &language_targets,
            &all_examples,
            feature_count,
            LANGUAGE_COUNT,
            config,
        );

        // English gets a model of its own when there are other languages beside it.
        let english: Vec<Example> = examples
            .iter()
            .filter(|example| example.language == Language::English)
            .cloned()
            .collect();
        let english = (!english.is_empty() && english.len() < examples.len())
            .then(|| Box::new(Self::train_with(&english, config)));

        Classifier {
            english,
            config: config.clone(),
            vocabulary,
            action_head,
            category_head,
            language_head,
            categories,
            category_ranges,
            temperature,
            temperatures,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentiment::test_fixture;

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
            language: Language::English,
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
}
