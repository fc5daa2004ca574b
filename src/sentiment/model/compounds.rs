//! German compounds: "Datenverlust", "Preiserhöhung", "Serverausfall" are one word each, so
//! a word unigram never links them to "Daten", "Preis" or "Ausfall" written apart (or to
//! another compound of the same parts, "Datenverlust" to "Kundendaten"). A long word that
//! starts or ends with a known part of the domain also yields its two parts as words; the
//! character n-grams cover the rest.

/// Folded (see `text::fold`), lowercase parts that carry a reason's meaning in German
/// compounds, longest first where one is a prefix of another.
const PARTS: &[&str] = &[
    // Money.
    "preiserhohung",
    "preis",
    "kosten",
    "budget",
    "haushalt",
    "rabatt",
    "gebuhr",
    "gebuhren",
    "abrechnung",
    "rechnung",
    "lizenz",
    "lizenzen",
    "abo",
    "vertrag",
    "erhohung",
    "kurzung",
    "sparmassnahme",
    "spar",
    "konkurrenz",
    "anbieter",
    "alternative",
    "gratis",
    "kostenlos",
    // Pauses.
    "saison",
    "winter",
    "sommer",
    "herbst",
    "fruhling",
    "fruhjahr",
    "urlaub",
    "pause",
    "auszeit",
    "elternzeit",
    "mutterschutz",
    "sabbatical",
    "projekt",
    "kunde",
    "kunden",
    "auftrag",
    // Setup and usage.
    "einrichtung",
    "einarbeitung",
    "schulung",
    "anleitung",
    "onboarding",
    "bedienung",
    "oberflache",
    "einstellung",
    "einstellungen",
    "nutzung",
    "nutzer",
    "mitarbeiter",
    "kollegen",
    "team",
    // Problems.
    "daten",
    "verlust",
    "verloren",
    "fehler",
    "absturz",
    "abgesturzt",
    "ausfall",
    "ausfalle",
    "storung",
    "server",
    "system",
    "wartung",
    "ladezeit",
    "ladezeiten",
    "geschwindigkeit",
    "leistung",
    "funktion",
    "funktionen",
    "export",
    "import",
    "synchronisation",
    "schnittstelle",
    "support",
    "service",
    "hotline",
    "antwort",
    "wartezeit",
    "ticket",
    // Nothing to save.
    "firma",
    "firmen",
    "betrieb",
    "geschaft",
    "laden",
    "insolvenz",
    "schliessung",
    "ubernahme",
    "konzern",
    "konto",
    "datenschutz",
    "rechtsabteilung",
    "sicherheit",
    "eigenentwicklung",
    "entwicklung",
    "losung",
];

/// Linking letters between the parts of a compound ("Preis-s-erhöhung" is not one, but
/// "Geschäft-s-aufgabe", "Kunde-n-daten" are).
const LINKS: [&str; 3] = ["es", "s", "n"];

/// Shortest part worth emitting.
const MIN_PART: usize = 4;

/// Parts of a (lowercase, folded) word of eight letters or more that starts or ends with a
/// known part: the known part and what remains (without a linking letter), e.g.
/// "datenverlust" -> ["daten", "verlust"]. Empty for other words.
pub(super) fn compound_parts(word: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    if word.len() < 8 || !word.is_ascii() {
        return parts;
    }
    for &part in PARTS {
        if let Some(rest) = word.strip_prefix(part) {
            let rest = if is_part(rest) {
                rest
            } else {
                LINKS
                    .iter()
                    .find_map(|link| rest.strip_prefix(link).filter(|r| r.len() >= MIN_PART))
                    .unwrap_or(rest)
            };
            if rest.len() >= MIN_PART {
                push_new(&mut parts, part);
                push_new(&mut parts, rest);
            }
        }
        if let Some(front) = word.strip_suffix(part) {
            let front = if is_part(front) {
                front
            } else {
                LINKS
                    .iter()
                    .find_map(|link| front.strip_suffix(link).filter(|f| f.len() >= MIN_PART))
                    .unwrap_or(front)
            };
            if front.len() >= MIN_PART {
                push_new(&mut parts, front);
                push_new(&mut parts, part);
            }
        }
    }
    parts
}

fn is_part(word: &str) -> bool {
    PARTS.contains(&word)
}

fn push_new<'a>(parts: &mut Vec<&'a str>, part: &'a str) {
    if !parts.contains(&part) {
        parts.push(part);
    }
}

#[cfg(test)]
mod tests {
    use super::compound_parts;

    #[test]
    fn compounds_split_into_known_parts() {
        assert_eq!(compound_parts("datenverlust"), ["daten", "verlust"]);
        assert_eq!(compound_parts("serverausfall"), ["server", "ausfall"]);
        let customer_data = compound_parts("kundendaten");
        assert!(customer_data.contains(&"kunden") && customer_data.contains(&"daten"));
        assert!(compound_parts("preiserhohung").contains(&"preis"));
        assert!(compound_parts("geschaftsaufgabe").contains(&"aufgabe"));
        assert!(compound_parts("daten").is_empty());
        assert!(compound_parts("expensive").is_empty());
    }
}
