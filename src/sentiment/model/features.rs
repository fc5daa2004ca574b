//! Feature extraction: hashed, weighted unigrams, bigrams, character n-grams and style signals.

use super::compounds::compound_parts;
use super::tokens::{tokenize, Word};
use super::{NegationMode, TrainingConfig};
use crate::sentiment::corpus::{FNV_OFFSET, FNV_PRIME};

/// Feature namespaces keep e.g. the word "bug" and the char n-gram "bug"
/// apart after hashing.
const UNIGRAM: u8 = b'w';
const BIGRAM: u8 = b'b';
const CHAR_NGRAM: u8 = b'c';
const STYLE: u8 = b's';

/// A compound's part counts a little less than a word written on its own.
const COMPOUND_PART_WEIGHT: f64 = 0.7;

/// Hashed, weighted features of one text. Keys may repeat; repeated keys add
/// up in [`index_features`](super::vocabulary::index_features).
pub(super) fn extract_features(text: &str, config: &TrainingConfig, tone: f64) -> Vec<(u64, f64)> {
    extract_features_split(text, config, tone).0
}

/// [`extract_features`], and the keys of the text's word unigrams (whether the model knows
/// any of the words).
pub(super) fn extract_features_split(
    text: &str,
    config: &TrainingConfig,
    tone: f64,
) -> (Vec<(u64, f64)>, Vec<u64>) {
    let clauses = tokenize(text, config);
    let mut features = Vec::new();
    let mut unigrams = Vec::new();

    for (clause_index, clause) in clauses.iter().enumerate() {
        for word in clause {
            let raw_unigram = (feature_key(UNIGRAM, &[&word.text]), config.unigram_weight);
            unigrams.push(raw_unigram.0);
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
            // "datenverlust" also reads as "daten" and "verlust".
            for part in compound_parts(&word.text) {
                features.push((
                    feature_key(UNIGRAM, &[part]),
                    config.unigram_weight * COMPOUND_PART_WEIGHT,
                ));
            }
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
    (features, unigrams)
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
