//! Temperature calibration: fits the temperatures on out-of-fold action logits so that
//! probabilities mean what they say, in each language.

use super::softmax::{SoftmaxHead, Target};
use super::vocabulary::SparseVector;
use super::xorshift::XorShift64;
use super::{TrainingConfig, ACTION_COUNT, LANGUAGE_COUNT};

/// Fewest out-of-fold examples of a language for it to get a temperature of its own (with
/// fewer it takes the one fitted on all languages).
const MIN_EXAMPLES_PER_LANGUAGE: usize = 50;

/// Fits the temperatures on out-of-fold action logits: each fold's examples are scored by
/// a head trained on the other folds with the same config. Answers the temperature fitted
/// on every example and one per language (`languages[i]` is example `i`'s, an index into
/// [`crate::sentiment::Language::ALL`]): the languages' corpora differ in size and wording,
/// so one shared temperature left some languages over- and others under-confident.
pub(super) fn fit_temperatures(
    vectors: &[SparseVector],
    targets: &[Target],
    languages: &[usize],
    feature_count: usize,
    config: &TrainingConfig,
) -> (f64, [f64; LANGUAGE_COUNT]) {
    let folds = config.calibration_folds;
    if folds < 2 || vectors.len() < 2 * folds {
        return (1.0, [1.0; LANGUAGE_COUNT]);
    }
    let fold_of = stratified_folds(targets, folds, config.seed);
    let mut out_of_fold: Vec<(Vec<f64>, usize)> = Vec::with_capacity(vectors.len());
    let mut language_of: Vec<usize> = Vec::with_capacity(vectors.len());
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
            language_of.push(languages[index]);
        }
    }
    let overall = fit_temperature_to_logits(&out_of_fold);
    let mut per_language = [overall; LANGUAGE_COUNT];
    for (language, temperature) in per_language.iter_mut().enumerate() {
        let scored: Vec<(Vec<f64>, usize)> = out_of_fold
            .iter()
            .zip(&language_of)
            .filter(|(_, of)| **of == language)
            .map(|(scored, _)| scored.clone())
            .collect();
        if scored.len() >= MIN_EXAMPLES_PER_LANGUAGE {
            *temperature = fit_temperature_to_logits(&scored);
        }
    }
    (overall, per_language)
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

#[cfg(test)]
mod tests {
    use super::super::softmax::{argmax, softmax};
    use super::*;

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
}
