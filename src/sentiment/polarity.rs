//! Lexicon-based polarity of a cancellation reason, in the spirit of VADER.
//!
//! The score says how negative (angry) or positive the wording is, not what
//! the reason is about, so the lexicon keeps domain complaints such as
//! "expensive" or "slow" only mildly negative: a calm "too pricey for us"
//! should stay near zero while a rant lands well below -0.6.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Normalisation constant of `x / sqrt(x^2 + alpha)`: a raw sum of about -3
/// (one strong word) maps to about -0.7.
const ALPHA: f64 = 10.0;
/// Negation flips a word and damps it, "not good" is weaker than "bad".
const NEGATION_SCALAR: f64 = -0.74;
/// How many preceding tokens a negator reaches.
const NEGATION_WINDOW: usize = 3;
/// Extra weight for a valenced word written in ALL CAPS.
const CAPS_FACTOR: f64 = 1.5;
/// Shouting in a cancellation form reads as anger even on neutral words.
const SHOUTED_WORD_PENALTY: f64 = -0.35;
/// Emphasis added per '!' (up to four), in the direction of the sum.
const EXCLAMATION_BOOST: f64 = 0.292;
/// Emphasis added per '?' (up to three) when there are two or more.
const QUESTION_BOOST: f64 = 0.18;
/// Valence of any profanity, including censored forms such as "f***".
const PROFANITY_VALENCE: f64 = -3.4;

/// Sentiment of `text` in `[-1, 1]`; `0.0` for text without sentiment words.
pub fn polarity(text: &str) -> f64 {
    let tokens = tokenize(text);
    let lexicon = lexicon();
    // "nothing but a headache" is not a contrast, only a real "but" is.
    let but_position = tokens
        .iter()
        .enumerate()
        .position(|(i, t)| t.lower == "but" && !(i > 0 && is_negator(&tokens[i - 1].lower)));

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

struct Token {
    lower: String,
    /// Written in capitals with at least two letters, e.g. "WORST".
    is_shouted: bool,
    /// Index of the clause (text between punctuation marks): negation and
    /// intensifiers do not reach across clauses.
    clause: usize,
}

/// Words of letters, digits, apostrophes and '*' (for censored profanity),
/// tagged with their clause number.
fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut clause = 0;
    let mut word = String::new();
    let flush = |word: &mut String, clause: usize, tokens: &mut Vec<Token>| {
        let trimmed = word.trim_matches('\'');
        if !trimmed.is_empty() {
            let letters = trimmed.chars().filter(|c| c.is_alphabetic()).count();
            tokens.push(Token {
                lower: trimmed.to_lowercase(),
                is_shouted: letters >= 2 && !trimmed.chars().any(char::is_lowercase),
                clause,
            });
        }
        word.clear();
    };
    for c in text.chars() {
        match c {
            c if c.is_alphanumeric() || c == '\'' || c == '*' => word.push(c),
            '’' | '‘' => word.push('\''),
            _ => {
                flush(&mut word, clause, &mut tokens);
                if matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | '\n') {
                    clause += 1;
                }
            }
        }
    }
    flush(&mut word, clause, &mut tokens);
    tokens
}

/// Valence of the token at `position`, with a few idioms resolved from
/// the neighbouring words.
fn token_valence(
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
        // "closing for good" means permanently, not something good.
        ("for", "good", _) => None,
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
    None
}

fn is_profanity(word: &str) -> bool {
    const PROFANE_STEMS: [&str; 6] = ["fuck", "shit", "bullshit", "motherf", "asshole", "bitch"];
    // Censored spellings like "f***", "s**t", "sh*t".
    let censored = word.contains('*') && word.starts_with(|c: char| c.is_alphabetic());
    censored || PROFANE_STEMS.iter().any(|stem| word.starts_with(stem))
}

fn is_acronym(word: &str) -> bool {
    const ACRONYMS: [&str; 32] = [
        "api", "csv", "pdf", "sms", "crm", "sso", "us", "usa", "eu", "uk", "it", "hq", "roi", "ui",
        "ux", "pos", "dns", "soc", "gdpr", "hipaa", "cfo", "ceo", "cto", "fca", "baa", "ok", "ios",
        "ai", "seo", "saas", "dpo", "q1",
    ];
    ACRONYMS.contains(&word) || word.chars().any(|c| c.is_ascii_digit())
}

#[derive(Debug, PartialEq)]
enum Negation {
    None,
    Flip,
    Emphasis,
}

fn is_negator(word: &str) -> bool {
    const NEGATORS: [&str; 27] = [
        "not", "no", "never", "without", "nothing", "nobody", "none", "neither", "nor", "cannot",
        "hardly", "barely", "dont", "cant", "wont", "didnt", "doesnt", "isnt", "wasnt", "arent",
        "couldnt", "wouldnt", "shouldnt", "havent", "hasnt", "werent", "aint",
    ];
    NEGATORS.contains(&word) || word.ends_with("n't")
}

/// Looks for a negator among the last few words of the same clause.
fn negation(preceding: &[Token]) -> Negation {
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
        // "nothing but trouble" is all trouble.
        ["but", ..] => Negation::None,
        ["been", "this" | "so" | "more", ..] => Negation::Emphasis,
        _ => Negation::Flip,
    }
}

/// Intensifiers ("very", "so") push the word's valence away from zero,
/// dampeners ("slightly", "kinda") pull it towards zero.
fn booster_adjustment(preceding: &[Token], valence: f64) -> f64 {
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
        "completely" | "totally" | "seriously" | "truly" | "fucking" | "freaking" | "damn" => 0.35,
        "very" | "so" | "really" | "super" | "such" | "too" | "way" | "most" => 0.293,
        "slightly" | "somewhat" | "kinda" | "kind" | "sort" | "sorta" | "bit" | "little"
        | "fairly" | "mildly" | "mostly" => -0.293,
        _ => 0.0,
    }
}

fn emoticon_valence(text: &str) -> f64 {
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

fn lexicon() -> &'static HashMap<&'static str, f64> {
    static LEXICON: OnceLock<HashMap<&'static str, f64>> = OnceLock::new();
    LEXICON.get_or_init(|| LEXICON_ENTRIES.iter().copied().collect())
}

/// Hand-written valences on a VADER-like -4..4 scale. Inflections that the
/// suffix stripping in [`word_valence`] cannot reach are listed explicitly.
const LEXICON_ENTRIES: &[(&str, f64)] = &[
    // Strongly negative: anger, contempt, disgust.
    ("worst", -3.1),
    ("terrible", -2.9),
    ("terribly", -2.5),
    ("awful", -3.0),
    ("awfully", -2.2),
    ("horrible", -3.0),
    ("horribly", -2.6),
    ("horrendous", -3.2),
    ("atrocious", -3.2),
    ("appalling", -3.0),
    ("abysmal", -3.0),
    ("dreadful", -2.8),
    ("disastrous", -3.0),
    ("catastrophic", -3.0),
    ("garbage", -2.8),
    ("trash", -2.6),
    ("trashy", -2.4),
    ("junk", -2.4),
    ("rubbish", -2.4),
    ("crap", -3.0),
    ("crappy", -2.8),
    ("shitty", -3.2),
    ("shite", -3.0),
    ("sucks", -2.6),
    ("suck", -2.4),
    ("sucky", -2.4),
    ("sux", -2.4),
    ("useless", -2.4),
    ("pathetic", -2.7),
    ("scam", -3.0),
    ("scammy", -2.6),
    ("scammer", -3.0),
    ("ripoff", -2.8),
    ("disaster", -2.8),
    ("nightmare", -2.6),
    ("hate", -2.9),
    ("hatred", -3.0),
    ("loathe", -3.0),
    ("despise", -3.0),
    ("detest", -3.0),
    ("furious", -3.0),
    ("livid", -3.0),
    ("outraged", -3.0),
    ("enraged", -3.0),
    ("infuriating", -3.0),
    ("infuriated", -3.0),
    ("angry", -2.5),
    ("angrier", -2.6),
    ("anger", -2.3),
    ("pissed", -2.8),
    ("mad", -2.0),
    ("disgusting", -3.0),
    ("disgusted", -2.9),
    ("disgrace", -2.8),
    ("disgraceful", -2.9),
    ("shameful", -2.6),
    ("shame", -1.8),
    ("incompetent", -2.7),
    ("incompetence", -2.7),
    ("inept", -2.6),
    ("clowns", -2.5),
    ("clown", -2.2),
    ("idiots", -3.0),
    ("idiot", -2.9),
    ("idiotic", -2.8),
    ("moron", -3.0),
    ("morons", -3.0),
    ("stupid", -2.6),
    ("dumb", -2.3),
    ("thieves", -3.0),
    ("thief", -2.9),
    ("crooks", -2.8),
    ("liar", -2.8),
    ("liars", -2.9),
    ("lied", -2.5),
    ("lies", -2.2),
    ("cheated", -2.6),
    ("robbery", -2.8),
    ("greedy", -2.4),
    ("greed", -2.2),
    ("miserable", -2.6),
    ("hell", -2.0),
    ("damn", -2.2),
    ("dammit", -2.4),
    ("damned", -2.4),
    ("goddamn", -3.0),
    ("bloody", -1.5),
    ("bs", -2.5),
    ("wtf", -3.0),
    ("fml", -2.6),
    ("unacceptable", -2.6),
    ("outrageous", -2.6),
    ("ridiculous", -2.1),
    ("ridiculously", -1.8),
    ("absurd", -2.0),
    ("nonsense", -2.2),
    ("joke", -1.8),
    ("laughable", -2.2),
    ("insulting", -2.6),
    ("insult", -2.4),
    ("rude", -2.2),
    ("rudely", -2.2),
    ("dismissive", -1.8),
    ("condescending", -2.3),
    ("unprofessional", -2.2),
    ("hostile", -2.2),
    ("betrayed", -2.6),
    ("screwed", -2.6),
    ("shoddy", -2.4),
    ("sloppy", -2.0),
    ("amateurish", -2.2),
    ("lousy", -2.2),
    ("ugly", -2.0),
    ("horror", -2.6),
    ("ruined", -2.6),
    ("ruin", -2.4),
    ("ruins", -2.4),
    ("destroyed", -2.5),
    ("wreck", -2.0),
    ("sick", -1.2),
    ("screw", -2.2),
    ("ugh", -1.8),
    ("argh", -2.0),
    ("smh", -1.6),
    ("yikes", -1.4),
    ("lame", -1.8),
    // Moderately negative: disappointment, frustration, distress.
    ("bad", -2.3),
    ("badly", -2.0),
    ("worse", -2.1),
    ("poor", -1.8),
    ("poorly", -1.6),
    ("disappointed", -2.0),
    ("disappointing", -2.1),
    ("disappointment", -2.1),
    ("disappoint", -1.9),
    ("letdown", -1.9),
    ("frustrated", -2.0),
    ("frustrating", -2.2),
    ("frustration", -2.0),
    ("annoyed", -1.8),
    ("annoying", -2.0),
    ("annoyance", -1.8),
    ("irritated", -1.8),
    ("irritating", -2.0),
    ("upset", -2.0),
    ("unhappy", -1.8),
    ("sad", -1.8),
    ("sadly", -1.4),
    ("regret", -2.0),
    ("regrettable", -1.8),
    ("waste", -2.0),
    ("wasted", -2.0),
    ("wasteful", -1.8),
    ("headache", -1.8),
    ("headaches", -1.8),
    ("pain", -1.5),
    ("painful", -1.8),
    ("painfully", -1.6),
    ("misleading", -2.0),
    ("misled", -2.0),
    ("ghosted", -2.0),
    ("ignored", -1.6),
    ("neglected", -1.6),
    ("unreliable", -1.8),
    ("unusable", -2.2),
    ("unbelievable", -1.2),
    ("tired", -1.0),
    ("exhausted", -1.4),
    ("burnout", -1.2),
    ("stress", -1.4),
    ("stressful", -1.6),
    ("stressed", -1.5),
    ("worried", -1.2),
    ("worry", -1.0),
    ("afraid", -1.3),
    ("fear", -1.4),
    ("sigh", -1.0),
    ("meh", -0.8),
    ("blah", -0.8),
    ("fail", -1.8),
    ("failed", -1.6),
    ("failing", -1.6),
    ("failure", -2.0),
    ("fails", -1.7),
    ("broken", -1.4),
    ("broke", -0.9),
    ("buggy", -1.4),
    ("glitchy", -1.2),
    ("crash", -1.0),
    ("crashes", -1.0),
    ("crashing", -1.0),
    ("crashed", -1.0),
    ("wrong", -1.2),
    ("problem", -0.8),
    ("problems", -0.8),
    ("problematic", -1.2),
    ("issue", -0.5),
    ("issues", -0.5),
    ("error", -0.7),
    ("errors", -0.7),
    ("lost", -1.0),
    ("lose", -0.8),
    ("losing", -0.8),
    ("missing", -0.5),
    ("lacking", -1.0),
    ("lacks", -0.9),
    ("confusing", -1.0),
    ("confused", -0.9),
    ("overwhelmed", -1.2),
    ("overwhelming", -1.1),
    ("complicated", -0.7),
    ("difficult", -0.9),
    ("struggling", -1.2),
    ("struggle", -1.1),
    ("tough", -0.6),
    ("rough", -0.8),
    ("unfortunately", -0.8),
    ("unfortunate", -0.9),
    ("sorry", -0.3),
    ("overpriced", -1.2),
    ("expensive", -0.4),
    ("pricey", -0.3),
    ("slow", -0.6),
    ("sluggish", -0.9),
    ("laggy", -0.9),
    ("clunky", -1.0),
    ("mess", -1.8),
    ("messy", -1.4),
    ("chaos", -1.6),
    ("impossible", -1.3),
    ("hassle", -1.4),
    ("scary", -1.6),
    ("terrified", -2.2),
    ("worthless", -2.6),
    ("inadequate", -1.7),
    ("mediocre", -1.4),
    ("subpar", -1.6),
    ("deceptive", -2.4),
    ("sneaky", -2.0),
    ("unfair", -2.0),
    ("refund", -0.6),
    // Positive: satisfaction, politeness, praise.
    ("love", 3.0),
    ("loved", 2.9),
    ("lovely", 2.6),
    ("liked", 1.6),
    ("great", 3.1),
    ("good", 1.9),
    ("nice", 1.8),
    ("excellent", 3.2),
    ("amazing", 2.8),
    ("awesome", 3.1),
    ("fantastic", 2.6),
    ("wonderful", 2.7),
    ("brilliant", 2.8),
    ("superb", 3.0),
    ("outstanding", 3.0),
    ("perfect", 2.7),
    ("best", 3.2),
    ("better", 1.0),
    ("fine", 0.8),
    ("ok", 0.9),
    ("okay", 0.9),
    ("decent", 1.2),
    ("solid", 1.5),
    ("happy", 2.7),
    ("glad", 2.0),
    ("pleased", 2.3),
    ("pleasant", 2.2),
    ("enjoy", 2.2),
    ("enjoyed", 2.3),
    ("fun", 2.3),
    ("helpful", 1.8),
    ("useful", 1.9),
    ("valuable", 2.1),
    ("easy", 1.9),
    ("simple", 1.2),
    ("intuitive", 1.8),
    ("smooth", 1.4),
    ("reliable", 1.7),
    ("fast", 1.0),
    ("quick", 0.8),
    ("powerful", 1.6),
    ("effective", 1.8),
    ("efficient", 1.8),
    ("impressive", 2.3),
    ("impressed", 2.2),
    ("beautiful", 2.9),
    ("cool", 1.3),
    ("neat", 1.5),
    ("sweet", 2.0),
    ("thanks", 1.9),
    ("thank", 1.5),
    ("thx", 1.6),
    ("cheers", 1.5),
    ("thankful", 2.2),
    ("grateful", 2.3),
    ("appreciate", 2.0),
    ("appreciated", 2.1),
    ("kind", 1.6),
    ("kindly", 1.2),
    ("friendly", 2.2),
    ("responsive", 1.3),
    ("professional", 1.3),
    ("recommend", 1.5),
    ("worth", 1.0),
    ("welcome", 1.6),
    ("hope", 1.5),
    ("hopefully", 1.2),
    ("luck", 1.5),
    ("success", 2.2),
    ("successful", 2.4),
    ("satisfied", 1.9),
    ("satisfying", 1.8),
    ("yay", 2.4),
    ("wow", 1.4),
    ("please", 0.3),
    ("pls", 0.3),
    ("excited", 2.2),
    ("exciting", 2.2),
    ("benefit", 1.5),
    ("win", 2.0),
];

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
    fn the_clause_after_but_dominates() {
        assert!(
            polarity("I love the design but it is slow and buggy") < polarity("I love the design")
        );
        assert!(polarity("it was a bit confusing but the team was great") > 0.0);
    }
}
