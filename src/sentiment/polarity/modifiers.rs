//! Words that change a neighbour's valence: negators flip or emphasise it, boosters and
//! dampeners scale it.

use super::tokens::Token;

/// How many preceding tokens a negator reaches.
const NEGATION_WINDOW: usize = 3;

#[derive(Debug, PartialEq)]
pub(super) enum Negation {
    None,
    Flip,
    Emphasis,
}

pub(super) fn is_negator(word: &str) -> bool {
    const NEGATORS: &[&str] = &[
        "not", "no", "never", "without", "nothing", "nobody", "none", "neither", "nor", "cannot",
        "hardly", "barely", "dont", "cant", "wont", "didnt", "doesnt", "isnt", "wasnt", "arent",
        "couldnt", "wouldnt", "shouldnt", "havent", "hasnt", "werent", "aint",
        // German.
        "nicht", "kein", "keine", "keinen", "keinem", "keiner", "nie", "niemals", "nichts", "ohne",
        "kaum", // French ("ne" is also the "n'" of "n'est").
        "ne", "pas", "jamais", "rien", "aucun", "aucune", "sans", "guere",
        // Spanish ("no" is above).
        "nunca", "jamas", "nada", "nadie", "sin", "ningun", "ninguno", "ninguna", "tampoco",
        "apenas",
    ];
    NEGATORS.contains(&word) || word.ends_with("n't")
}

/// "but" and its kin: the clause after one carries the point.
pub(super) fn is_contrast(word: &str) -> bool {
    matches!(word, "but" | "aber" | "sondern" | "mais" | "pero" | "sino")
}

/// Looks for a negator among the last few words of the same clause.
pub(super) fn negation(preceding: &[Token]) -> Negation {
    let window_start = preceding.len().saturating_sub(NEGATION_WINDOW);
    let Some(offset) = preceding[window_start..]
        .iter()
        .rposition(|t| is_negator(&t.lower))
    else {
        return Negation::None;
    };
    let after: Vec<&str> = preceding[window_start + offset + 1..]
        .iter()
        .map(|t| t.lower.as_str())
        .collect();
    match after.as_slice() {
        // "nothing but trouble" is all trouble (so is "rien que des problèmes").
        ["but", ..] | ["que", ..] => Negation::None,
        ["been", "this" | "so" | "more", ..] => Negation::Emphasis,
        _ => Negation::Flip,
    }
}

/// Intensifiers ("very", "so") push the word's valence away from zero,
/// dampeners ("slightly", "kinda") pull it towards zero.
pub(super) fn booster_adjustment(preceding: &[Token], valence: f64) -> f64 {
    preceding
        .iter()
        .rev()
        .take(2)
        .enumerate()
        .map(|(distance, token)| {
            let strength = booster_strength(&token.lower);
            // The word two back counts a little less than the adjacent one.
            let decay = if distance == 0 { 1.0 } else { 0.95 };
            let caps = if token.is_shouted && strength != 0.0 {
                1.5
            } else {
                1.0
            };
            strength * decay * caps * valence.signum()
        })
        .sum()
}

fn booster_strength(word: &str) -> f64 {
    match word {
        "extremely" | "utterly" | "insanely" | "incredibly" | "absolutely" => 0.45,
        "extrem" | "absolut" | "voellig" | "vollig" | "extremement" | "absolument"
        | "extremadamente" | "absolutamente" => 0.45,
        "completely" | "totally" | "seriously" | "truly" | "fucking" | "freaking" | "damn" => 0.35,
        "total" | "komplett" | "verdammt" | "scheiss" | "completement" | "totalement"
        | "vraiment" | "grave" | "completamente" | "totalmente" | "realmente" => 0.35,
        "very" | "so" | "really" | "super" | "such" | "too" | "way" | "most" => 0.293,
        "sehr" | "echt" | "wirklich" | "zu" | "ganz" | "tres" | "trop" | "tellement" | "si"
        | "muy" | "demasiado" | "tan" => 0.293,
        "slightly" | "somewhat" | "kinda" | "kind" | "sort" | "sorta" | "bit" | "little"
        | "fairly" | "mildly" | "mostly" => -0.293,
        "etwas" | "bisschen" | "leicht" | "eher" | "peu" | "plutot" | "assez" | "poco" | "algo"
        | "bastante" => -0.293,
        _ => 0.0,
    }
}
