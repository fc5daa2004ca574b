//! The linear softmax layer both heads use: AdaGrad training, logits, and softmax itself.

use std::ops::Range;

use super::vocabulary::SparseVector;
use super::xorshift::XorShift64;
use super::TrainingConfig;

/// Training label plus the classes its softmax ranges over.
pub(super) struct Target {
    pub(super) class: usize,
    pub(super) candidates: Range<usize>,
}

/// Linear softmax layer; `weights` is row-major `[feature][class]` so one
/// feature's class weights are contiguous.
#[derive(Clone)]
pub(super) struct SoftmaxHead {
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
    pub(super) fn train(
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
    pub(super) fn logits(&self, vector: &SparseVector, candidates: Range<usize>) -> Vec<f64> {
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

pub(super) fn softmax(logits: &[f64]) -> Vec<f64> {
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
pub(super) fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (index, value) in values.iter().enumerate() {
        if *value > values[best] {
            best = index;
        }
    }
    best
}
