//! The language a reason is written in: English, German, French or Spanish, the languages
//! the model is trained on (and the cancel widget speaks).
//!
//! Detection is `whatlang`'s trigram detector restricted to those four languages. Its
//! trigram profiles are of general text, and on a reason of two or three words ("duplicate
//! account", "lost my data") it is often unsure and then often wrong, so the classifier
//! takes its answer only when `whatlang` calls it reliable, and otherwise asks a language
//! head of its own, trained on the four corpora (see `model::prediction`). A reason it
//! cannot place at all (no letters: "???", "2") is taken as English, the fallback. A reason
//! in any other language comes out as the nearest of the four; the classifier still answers
//! it as well as it can, with the low confidence it has there.

use std::fmt;
use std::sync::OnceLock;

use whatlang::{Detector, Lang};

/// A language the model reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Language {
    English,
    German,
    French,
    Spanish,
}

impl Language {
    /// Every language, in the order of per-language tables.
    pub const ALL: [Self; 4] = [Self::English, Self::German, Self::French, Self::Spanish];

    /// What detection answers when it cannot tell.
    pub const FALLBACK: Self = Self::English;

    /// ISO 639-1 code: "en", "de", "fr", "es".
    pub fn code(self) -> &'static str {
        match self {
            Self::English => "en",
            Self::German => "de",
            Self::French => "fr",
            Self::Spanish => "es",
        }
    }

    /// Parses an ISO 639-1 code (case ignored).
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|language| language.code().eq_ignore_ascii_case(code.trim()))
    }

    /// Position in [`Language::ALL`].
    pub fn index(self) -> usize {
        match self {
            Self::English => 0,
            Self::German => 1,
            Self::French => 2,
            Self::Spanish => 3,
        }
    }

    fn whatlang(self) -> Lang {
        match self {
            Self::English => Lang::Eng,
            Self::German => Lang::Deu,
            Self::French => Lang::Fra,
            Self::Spanish => Lang::Spa,
        }
    }

    fn from_whatlang(lang: Lang) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|language| language.whatlang() == lang)
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.code())
    }
}

fn detector() -> &'static Detector {
    static DETECTOR: OnceLock<Detector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        Detector::with_allowlist(Language::ALL.iter().map(|l| l.whatlang()).collect())
    })
}

/// The language `text` is most likely written in, among the four, by `whatlang` alone;
/// [`Language::FALLBACK`] when the text gives nothing to go on.
pub fn detect(text: &str) -> Language {
    detector()
        .detect_lang(text)
        .and_then(Language::from_whatlang)
        .unwrap_or(Language::FALLBACK)
}

/// `whatlang`'s answer when it calls it reliable, else `None`.
pub(crate) fn detect_reliably(text: &str) -> Option<Language> {
    detector()
        .detect(text)
        .filter(whatlang::Info::is_reliable)
        .and_then(|info| Language::from_whatlang(info.lang()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for language in Language::ALL {
            assert_eq!(Language::parse(language.code()), Some(language));
            assert_eq!(Language::ALL[language.index()], language);
        }
        assert_eq!(Language::parse("DE"), Some(Language::German));
        assert_eq!(Language::parse("it"), None);
    }

    #[test]
    fn the_four_languages_are_told_apart() {
        let cases = [
            (
                "Too expensive for our small team, we are cancelling",
                Language::English,
            ),
            (
                "Zu teuer für unser kleines Team, wir kündigen",
                Language::German,
            ),
            ("Trop cher pour nous en ce moment", Language::French),
            (
                "Demasiado caro para nosotros ahora mismo",
                Language::Spanish,
            ),
        ];
        for (text, language) in cases {
            assert_eq!(detect(text), language, "{text}");
        }
    }

    #[test]
    fn text_without_letters_falls_back_to_english() {
        assert_eq!(detect(""), Language::FALLBACK);
        assert_eq!(detect("???"), Language::FALLBACK);
        assert_eq!(detect("42"), Language::FALLBACK);
    }
}
