//! The vocabulary: hashed features to dense columns, and the L2-normalised sparse vectors
//! built from them.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use crate::sentiment::corpus::FNV_PRIME;

/// Sparse feature vector: distinct (column, value) pairs in first-seen
/// order, L2-normalised.
pub(super) type SparseVector = Vec<(u32, f64)>;

/// Feature hash -> dense column index.
pub(super) type Vocabulary = HashMap<u64, u32, PrehashedKey>;

/// Feature keys are already FNV-1a hashes, so the map can use them as they
/// are instead of re-hashing with SipHash.
#[derive(Clone, Copy, Default)]
pub(super) struct PrehashedKey;

impl BuildHasher for PrehashedKey {
    type Hasher = PrehashedHasher;

    fn build_hasher(&self) -> PrehashedHasher {
        PrehashedHasher(0)
    }
}

pub(super) struct PrehashedHasher(u64);

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

/// Maps hashed features to column indices (dropping unknown ones), sums
/// repeated features and L2-normalises. The norm is taken over all features,
/// known or not, so text full of unseen words yields small, unsure logits.
///
/// `slot_of_column` must be all zeros and as long as the vocabulary; it is
/// left all zeros again. It remembers where each column already sits in the
/// vector, which merges duplicates in linear time (sorting every vector was
/// the slowest part of training in debug builds).
pub(super) fn index_features(
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
