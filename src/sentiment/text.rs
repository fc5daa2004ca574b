//! Spelling helpers the classifier and the polarity score share: accents folded away and
//! French elisions split off, so that "très cher", "tres cher" and "l'appli" read alike.

/// The lowercase letter `c` without its accent ("é" -> "e", "ü" -> "u", "ß" -> "ss",
/// "œ" -> "oe"), or `None` when it has none to drop. Customers type accents or not, often
/// within one sentence ("kündigen", "kundigen"); folding both to one spelling lets them share
/// every feature and lexicon entry.
pub(crate) fn fold_accent(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => "a",
        'ç' => "c",
        'è' | 'é' | 'ê' | 'ë' => "e",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'ñ' => "n",
        'ò' | 'ó' | 'ô' | 'ö' | 'õ' => "o",
        'ù' | 'ú' | 'û' | 'ü' => "u",
        'ý' | 'ÿ' => "y",
        'ß' => "ss",
        'œ' => "oe",
        'æ' => "ae",
        _ => return None,
    })
}

/// Lowercase `text` with its accents folded (see [`fold_accent`]).
pub(crate) fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match fold_accent(c) {
            Some(plain) => folded.push_str(plain),
            None => folded.push(c),
        }
    }
    folded
}

/// A French elision at the start of a lowercase word: `("ne", "est")` for "n'est",
/// `("le", "appli")` for "l'appli", `("que", "il")` for "qu'il". Only the elided words
/// French has (c', d', j', l', m', n', s', t', qu' and jusqu', lorsqu', puisqu'), so that
/// English contractions ("don't", "it's") are left alone.
pub(crate) fn split_elision(word: &str) -> Option<(&'static str, &str)> {
    let (head, rest) = word.split_once('\'')?;
    if rest.is_empty() || !rest.starts_with(char::is_alphabetic) {
        return None;
    }
    let full = match head {
        "c" => "ce",
        "d" => "de",
        "j" => "je",
        "l" => "le",
        "m" => "me",
        "n" => "ne",
        "s" => "se",
        "t" => "te",
        "qu" => "que",
        "jusqu" => "jusque",
        "lorsqu" => "lorsque",
        "puisqu" => "puisque",
        _ => return None,
    };
    Some((full, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_fold_to_plain_letters() {
        assert_eq!(
            fold("Très CHER, Kündigung, Straße, año"),
            "tres cher, kundigung, strasse, ano"
        );
        assert_eq!(fold("plain ascii"), "plain ascii");
    }

    #[test]
    fn french_elisions_split_and_english_contractions_stay() {
        assert_eq!(split_elision("n'est"), Some(("ne", "est")));
        assert_eq!(split_elision("l'application"), Some(("le", "application")));
        assert_eq!(split_elision("qu'on"), Some(("que", "on")));
        assert_eq!(split_elision("don't"), None);
        assert_eq!(split_elision("it's"), None);
        assert_eq!(split_elision("l'"), None);
    }
}
