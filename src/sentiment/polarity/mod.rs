//! Lexicon-based polarity of a cancellation reason, in the spirit of VADER.
//!
//! The score says how negative (angry) or positive the wording is, not what
//! the reason is about, so the lexicon keeps domain complaints such as
//! "expensive" or "slow" only mildly negative: a calm "too pricey for us"
//! should stay near zero while a rant lands well below -0.6.
//!
//! Here the score of a text, which combines tokens, word valences, the negators and boosters
//! around them, and emoticons; those, and the lexicon, are in their own files.

mod lexicon;
mod lexicon_intl;
mod modifiers;
mod tokens;
mod valence;

use lexicon::lexicon;
use modifiers::{booster_adjustment, is_contrast, is_negator, negation, Negation};
use tokens::{is_acronym, tokenize};
use valence::{emoticon_valence, token_valence};

/// Normalisation constant of `x / sqrt(x^2 + alpha)`: a raw sum of about -3
/// (one strong word) maps to about -0.7.
const ALPHA: f64 = 10.0;
/// Negation flips a word and damps it, "not good" is weaker than "bad".
const NEGATION_SCALAR: f64 = -0.74;
/// Extra weight for a valenced word written in ALL CAPS.
const CAPS_FACTOR: f64 = 1.5;
/// Shouting in a cancellation form reads as anger even on neutral words.
const SHOUTED_WORD_PENALTY: f64 = -0.35;
/// Emphasis added per '!' (up to four), in the direction of the sum.
const EXCLAMATION_BOOST: f64 = 0.292;
/// Emphasis added per '?' (up to three) when there are two or more.
const QUESTION_BOOST: f64 = 0.18;

/// Sentiment of `text` in `[-1, 1]`; `0.0` for text without sentiment words.
pub fn polarity(text: &str) -> f64 {
    let tokens = tokenize(text);
    let lexicon = lexicon();
    // "nothing but a headache" is not a contrast, only a real "but" is.
    let but_position = tokens
        .iter()
        .enumerate()
        .position(|(i, t)| is_contrast(&t.lower) && !(i > 0 && is_negator(&tokens[i - 1].lower)));

    let mut sum = 0.0;
    for (position, token) in tokens.iter().enumerate() {
        let Some(mut valence) = token_valence(lexicon, &tokens, position) else {
            if token.is_shouted && !is_acronym(&token.lower) {
                sum += SHOUTED_WORD_PENALTY;
            }
            continue;
        };
        if token.is_shouted {
            valence *= CAPS_FACTOR;
        }
        let clause_start = tokens[..position]
            .iter()
            .rposition(|t| t.clause != token.clause)
            .map_or(0, |i| i + 1);
        let preceding = &tokens[clause_start..position];
        valence += booster_adjustment(preceding, valence);
        match negation(preceding) {
            Negation::None => {}
            Negation::Flip => valence *= NEGATION_SCALAR,
            // "never been this annoyed" emphasises instead of negating.
            Negation::Emphasis => valence *= 1.3,
        }
        // "I like it but it's buggy": the clause after "but" carries the point.
        if let Some(but) = but_position {
            valence *= if position < but { 0.5 } else { 1.5 };
        }
        sum += valence;
    }

    sum += emoticon_valence(text);

    if sum != 0.0 {
        let exclamations = text.matches('!').count().min(4) as f64;
        let questions = text.matches('?').count();
        let questions = if questions >= 2 {
            questions.min(3) as f64
        } else {
            0.0
        };
        let emphasis = exclamations * EXCLAMATION_BOOST + questions * QUESTION_BOOST;
        sum += emphasis * sum.signum();
    }

    (sum / (sum * sum + ALPHA).sqrt()).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLITE_NOTES: [&str; 5] = [
        "We're a seasonal business and closed until spring.",
        "Too expensive for a team our size, sorry.",
        "The project we bought this for is on hold until next quarter.",
        "We were acquired and the parent company uses another tool.",
        "I signed up and then forgot about it.",
    ];

    const RANTS: [&str; 5] = [
        "WORST SOFTWARE EVER",
        "This is the most frustrating tool I have ever used. I hate it.",
        "absolute trash, what a waste of time!!!",
        "f*** this app, total garbage",
        "I'm furious. Your support is useless and the app is a disaster!!",
    ];

    #[test]
    fn scores_stay_in_range() {
        for text in POLITE_NOTES.iter().chain(&RANTS) {
            let score = polarity(text);
            assert!((-1.0..=1.0).contains(&score), "{text}: {score}");
        }
        assert_eq!(polarity(""), 0.0);
        assert_eq!(polarity("   ...   "), 0.0);
    }

    #[test]
    fn polite_notes_are_near_neutral() {
        for text in POLITE_NOTES {
            let score = polarity(text);
            assert!((-0.35..=0.2).contains(&score), "{text}: {score}");
        }
    }

    #[test]
    fn rants_are_strongly_negative_and_below_polite_notes() {
        let most_negative_polite = POLITE_NOTES
            .iter()
            .map(|t| polarity(t))
            .fold(f64::INFINITY, f64::min);
        for text in RANTS {
            let score = polarity(text);
            assert!(score <= -0.6, "{text}: {score}");
            assert!(score < most_negative_polite, "{text}: {score}");
        }
    }

    #[test]
    fn negation_flips_polarity() {
        assert!(polarity("the app is good") > 0.3);
        assert!(polarity("the app is not good") < 0.0);
        assert!(polarity("honestly it wasn't bad") > 0.0);
        assert!(polarity("support didn't help, it was terrible") < -0.5);
    }

    #[test]
    fn intensifiers_caps_and_exclamations_amplify() {
        let plain = polarity("this is bad");
        assert!(polarity("this is very bad") < plain);
        assert!(polarity("this is BAD") < plain);
        assert!(polarity("this is bad!!!") < plain);
        assert!(polarity("this is slightly bad") > plain);
        assert!(polarity("I love it!!!") > polarity("I love it"));
    }

    #[test]
    fn profanity_is_strongly_negative() {
        assert!(polarity("this shit") < -0.7);
        assert!(polarity("s**t product") < -0.7);
        assert!(polarity("what the fuck") < -0.7);
    }

    #[test]
    fn idioms_are_resolved() {
        assert_eq!(polarity("We're closing the shop for good."), 0.0);
        assert!(polarity("It has been nothing but a headache.") < -0.3);
        assert!(polarity("Never been this annoyed by software in my life.") < -0.5);
        assert!(polarity("Never again. Total waste of money.") < -0.5);
        assert!(polarity("Fed up.") < -0.5);
        assert_eq!(polarity("It feels like a spreadsheet."), 0.0);
        assert!(polarity("I really like the app") > 0.3);
    }

    #[test]
    fn anger_reads_as_anger_in_every_language() {
        for text in [
            "Das ist eine absolute Frechheit!!! Nie wieder, totaler Schrott",
            "Ich bin stinksauer, euer Support ist nutzlos und die App eine Katastrophe",
            "C'est une arnaque, vous êtes des incompétents !!",
            "Service client nul, logiciel pourri, je suis furieux",
            "Es una estafa, son unos incompetentes!!!",
            "Estoy harto, la peor aplicación que he usado, una basura",
            "SCHEISS SOFTWARE",
            "putain de merde, rien ne marche",
            "qué mierda de servicio",
        ] {
            let score = polarity(text);
            assert!(score <= -0.6, "{text}: {score}");
        }
    }

    #[test]
    fn polite_notes_are_near_neutral_in_every_language() {
        for text in [
            "Zu teuer für unser kleines Team, wir kündigen",
            "Wir machen Winterpause und sind im Frühjahr zurück.",
            "Trop cher pour nous en ce moment",
            "Nous fermons l'entreprise pour de bon.",
            "Es demasiado caro para nosotros ahora mismo",
            "Cerramos el negocio a final de mes.",
        ] {
            let score = polarity(text);
            assert!((-0.35..=0.45).contains(&score), "{text}: {score}");
        }
    }

    #[test]
    fn negation_flips_polarity_in_every_language() {
        assert!(polarity("das ist nicht schlecht") > 0.0);
        assert!(polarity("ce n'est pas mauvais") > 0.0);
        assert!(polarity("no es malo") > 0.0);
        assert!(polarity("le support n'est pas bon") < 0.0);
        assert!(polarity("der Support ist nicht gut") < 0.0);
        assert!(polarity("el soporte no es bueno") < 0.0);
    }

    #[test]
    fn the_clause_after_but_dominates() {
        assert!(
            polarity("I love the design but it is slow and buggy") < polarity("I love the design")
        );
        assert!(polarity("it was a bit confusing but the team was great") > 0.0);
    }
}
