//! Tokens of a reason: words with their clause and whether they are shouted.

use crate::sentiment::text::{fold, split_elision};

pub(super) struct Token {
    pub(super) lower: String,
    /// Written in capitals with at least two letters, e.g. "WORST".
    pub(super) is_shouted: bool,
    /// Index of the clause (text between punctuation marks): negation and
    /// intensifiers do not reach across clauses.
    pub(super) clause: usize,
}

/// Words of letters, digits, apostrophes and '*' (for censored profanity),
/// tagged with their clause number, lowercase with accents folded; a French elision is
/// two words ("c'est" -> "ce", "est").
pub(super) fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut clause = 0;
    let mut word = String::new();
    let flush = |word: &mut String, clause: usize, tokens: &mut Vec<Token>| {
        let trimmed = word.trim_matches('\'');
        if !trimmed.is_empty() {
            let letters = trimmed.chars().filter(|c| c.is_alphabetic()).count();
            let is_shouted = letters >= 2 && !trimmed.chars().any(char::is_lowercase);
            let lower = fold(trimmed);
            if let Some((elided, rest)) = split_elision(&lower) {
                tokens.push(Token {
                    lower: elided.to_string(),
                    is_shouted: false,
                    clause,
                });
                tokens.push(Token {
                    lower: rest.to_string(),
                    is_shouted,
                    clause,
                });
            } else {
                tokens.push(Token {
                    lower,
                    is_shouted,
                    clause,
                });
            }
        }
        word.clear();
    };
    for c in text.chars() {
        match c {
            c if c.is_alphanumeric() || c == '\'' || c == '*' => word.push(c),
            '’' | '‘' => word.push('\''),
            _ => {
                flush(&mut word, clause, &mut tokens);
                if matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | '¡' | '¿' | '\n') {
                    clause += 1;
                }
            }
        }
    }
    flush(&mut word, clause, &mut tokens);
    tokens
}

pub(super) fn is_acronym(word: &str) -> bool {
    const ACRONYMS: &[&str] = &[
        "api", "csv", "pdf", "sms", "crm", "sso", "us", "usa", "eu", "uk", "it", "hq", "roi", "ui",
        "ux", "pos", "dns", "soc", "gdpr", "hipaa", "cfo", "ceo", "cto", "fca", "baa", "ok", "ios",
        "ai", "seo", "saas", "dpo", "q1",
        // German, French and Spanish business and legal shorthand.
        "dsgvo", "rgpd", "lopd", "gmbh", "ag", "ug", "sepa", "bsi", "erp", "ki", "ia", "cnil",
        "sarl", "sas", "sa", "sl", "pme", "tpe", "pyme", "rh", "rrhh", "tva", "iva", "dsi", "ue",
    ];
    ACRONYMS.contains(&word) || word.chars().any(|c| c.is_ascii_digit())
}
