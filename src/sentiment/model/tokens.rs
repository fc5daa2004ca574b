//! Tokenizing: normalised words in clauses, contractions, elisions and respellings
//! expanded, negation scopes marked, in English, German, French and Spanish alike.

use super::TrainingConfig;
use crate::sentiment::text::{fold_accent, split_elision};

/// A word after normalisation, and whether it sits in a negation scope.
pub(super) struct Word {
    pub(super) text: String,
    pub(super) negated: bool,
}

/// Words split into clauses at punctuation (negation and bigrams stop there).
pub(super) fn tokenize(text: &str, config: &TrainingConfig) -> Vec<Vec<Word>> {
    let normalized = normalize(text);
    let mut clauses = Vec::new();
    let mut clause: Vec<Word> = Vec::new();
    let mut negation_left = 0;
    let mut current = String::new();

    let push_word = |raw: &str, clause: &mut Vec<Word>, negation_left: &mut usize| {
        for word in expand_word(raw) {
            if is_contrast(&word) {
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
            '.' | ',' | ';' | ':' | '!' | '?' | '¡' | '¿' | '(' | ')' | '\n' => {
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

/// Lowercases, folds accents ("kündigen" and "kundigen" are one word; see
/// `text::fold_accent`), unifies apostrophes and squeezes letters repeated 3+ times
/// ("sooo slooow" -> "soo sloow") so elongations share features.
fn normalize(text: &str) -> String {
    let mut normalized = String::with_capacity(text.len());
    let mut previous = None;
    let mut run = 0;
    let mut push = |c: char| {
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
    };
    for c in text.chars().flat_map(char::to_lowercase) {
        match fold_accent(c) {
            Some(plain) => plain.chars().for_each(&mut push),
            None => push(c),
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
    // French: "n'est" -> "ne est", "l'appli" -> "le appli", "qu'on" -> "que on".
    if let Some((elided, rest)) = split_elision(word) {
        let mut words = vec![elided.to_string()];
        words.extend(expand_word(rest));
        return words;
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

/// Chat spellings, missing apostrophes and frequent typos (accents already folded).
fn respelling(word: &str) -> Option<&'static str> {
    Some(match word {
        // German.
        "nich" => "nicht",
        "garnicht" | "garnich" => "gar nicht",
        "zuteuer" => "zu teuer",
        "zuviel" => "zu viel",
        "hab" => "habe",
        "kp" => "keine ahnung",
        "gekundigt" | "kundige" => "kundigen",
        // French (elisions typed without their apostrophe, SMS spellings). Short forms that
        // are English words too ("pr", "tb") are left out.
        "jai" => "je ai",
        "cest" => "ce est",
        "jsuis" | "chui" | "chuis" => "je suis",
        "jsp" => "je sais pas",
        "ds" => "dans",
        "bcp" => "beaucoup",
        "tjs" | "tjrs" => "toujours",
        "pcq" | "pck" | "psk" | "parske" => "parce que",
        "qd" => "quand",
        "cb" => "combien",
        "appli" => "application",
        // Spanish.
        "q" | "qe" => "que",
        "xq" | "pq" | "porq" | "xk" | "pk" => "porque",
        "tmb" | "tbn" => "tambien",
        "dsd" => "desde",
        "nd" => "nada",
        "aki" => "aqui",
        // English.
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

/// Words that open a negation scope, in the four languages (accents folded).
fn is_negator(word: &str) -> bool {
    matches!(
        word,
        // English (and Spanish "no").
        "not" | "no" | "never" | "without" | "nothing" | "nobody" | "none" | "neither" | "nor"
        // German.
        | "nicht" | "kein" | "keine" | "keinen" | "keinem" | "keiner" | "nie" | "niemals"
        | "nichts" | "ohne" | "weder"
        // French ("ne" also stands for the "n'" of "n'est").
        | "ne" | "pas" | "jamais" | "rien" | "aucun" | "aucune" | "sans"
        // Spanish.
        | "nunca" | "jamas" | "nada" | "nadie" | "sin" | "ningun" | "ninguno" | "ninguna"
        | "tampoco" | "ni"
    )
}

/// Words that end a negation scope: what follows them is said on its own.
fn is_contrast(word: &str) -> bool {
    matches!(
        word,
        "but"
            | "however"
            | "although"
            | "though"
            | "aber"
            | "sondern"
            | "jedoch"
            | "mais"
            | "pourtant"
            | "pero"
            | "sino"
            | "aunque"
    )
}

#[cfg(test)]
mod tests {
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
    fn accents_elisions_and_negation_work_in_every_language() {
        assert_eq!(
            words("Zu teuer, wir kündigen"),
            ["zu", "teuer", "wir", "kundigen"]
        );
        assert_eq!(
            words("zu teuer wir kundigen"),
            ["zu", "teuer", "wir", "kundigen"]
        );
        assert_eq!(
            words("Ce n'est pas cher, mais l'appli plante"),
            [
                "ce",
                "ne",
                "NOT_est",
                "pas",
                "NOT_cher",
                "mais",
                "le",
                "application",
                "plante"
            ]
        );
        assert_eq!(
            words("¿No funciona? ¡Qué desastre!"),
            ["no", "NOT_funciona", "que", "desastre"]
        );
        assert_eq!(
            words("Das ist nicht teuer aber nutzlos"),
            ["das", "ist", "nicht", "NOT_teuer", "aber", "nutzlos"]
        );
    }
}
