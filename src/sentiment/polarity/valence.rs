//! Valence of single words (lexicon, light stemming, idioms, profanity) and of emoticons.

use std::collections::HashMap;

use super::tokens::Token;

/// Valence of any profanity, including censored forms such as "f***".
const PROFANITY_VALENCE: f64 = -3.4;

/// Valence of the token at `position`, with a few idioms resolved from
/// the neighbouring words.
pub(super) fn token_valence(
    lexicon: &HashMap<&'static str, f64>,
    tokens: &[Token],
    position: usize,
) -> Option<f64> {
    let word = tokens[position].lower.as_str();
    let previous = position
        .checked_sub(1)
        .map(|i| tokens[i].lower.as_str())
        .unwrap_or("");
    let next = tokens.get(position + 1).map_or("", |t| t.lower.as_str());
    match (previous, word, next) {
        // "closing for good" means permanently, not something good (French: "pour de bon").
        ("for", "good", _) | ("de", "bon", _) => None,
        ("fed", "up", _) | ("sick", "of", _) | ("had", "enough", _) => Some(-2.2),
        (_, "fed", "up") | (_, "sick", "of") => None,
        ("rip", "off", _) => Some(-2.6),
        // "feels like", "like four tools": only "I/we (really) like" is liking.
        (_, "like", _) => matches!(
            previous,
            "i" | "we" | "they" | "really" | "do" | "did" | "still"
        )
        .then_some(1.5),
        _ => word_valence(lexicon, word),
    }
}

fn word_valence(lexicon: &HashMap<&'static str, f64>, word: &str) -> Option<f64> {
    if is_profanity(word) {
        return Some(PROFANITY_VALENCE);
    }
    if let Some(&valence) = lexicon.get(word) {
        return Some(valence);
    }
    // Light stemming so "hated", "crashes", "frustrations" still match.
    for suffix in ["s", "es", "ed", "d", "ing"] {
        if let Some(stem) = word.strip_suffix(suffix) {
            if stem.len() >= 3 {
                if let Some(&valence) = lexicon.get(stem) {
                    return Some(valence);
                }
            }
        }
    }
    // German endings ("schlechte", "schlechten") on longer stems, so "baden" is no "bad".
    for suffix in ["e", "en", "er", "es", "em"] {
        if let Some(stem) = word.strip_suffix(suffix) {
            if stem.len() >= 5 {
                if let Some(&valence) = lexicon.get(stem) {
                    return Some(valence);
                }
            }
        }
    }
    // Spanish gender and number: "mala", "malas", "malos" -> "malo".
    for suffix in ["a", "as", "os"] {
        if let Some(stem) = word.strip_suffix(suffix) {
            if stem.len() >= 3 {
                if let Some(&valence) = lexicon.get(format!("{stem}o").as_str()) {
                    return Some(valence);
                }
            }
        }
    }
    None
}

fn is_profanity(word: &str) -> bool {
    const PROFANE_STEMS: &[&str] = &[
        "fuck",
        "shit",
        "bullshit",
        "motherf",
        "asshole",
        "bitch", // English
        "scheiss",
        "kacke",
        "arschloch",
        "verfickt", // German (accents folded: "scheiße")
        "merde",
        "putain",
        "connard",
        "encule",
        "bordel", // French
        "mierd",
        "joder",
        "jodid",
        "cabron",
        "gilipoll",
        "hostia", // Spanish
    ];
    // Censored spellings like "f***", "s**t", "sh*t".
    let censored = word.contains('*') && word.starts_with(|c: char| c.is_alphabetic());
    censored || PROFANE_STEMS.iter().any(|stem| word.starts_with(stem))
}

pub(super) fn emoticon_valence(text: &str) -> f64 {
    // Every emoticon below holds ':' or '<' or is not ASCII: most reasons need no search.
    if text.is_ascii() && !text.contains([':', '<']) {
        return 0.0;
    }
    const EMOTICONS: [(&str, f64); 12] = [
        (":)", 1.8),
        (":-)", 1.8),
        (":D", 2.2),
        ("<3", 2.0),
        ("🙂", 1.8),
        ("😊", 2.0),
        (":(", -1.6),
        (":-(", -1.6),
        ("😡", -3.0),
        ("🤬", -3.4),
        ("😢", -2.0),
        ("👎", -2.0),
    ];
    EMOTICONS
        .iter()
        .map(|(emoticon, valence)| text.matches(emoticon).count() as f64 * valence)
        .sum()
}
