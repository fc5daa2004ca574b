//! The labelled cancellation-reason corpora, one per language, and their train/held-out
//! split.

use std::collections::BTreeMap;

use super::{Language, SuggestedAction};

/// The hand-labelled corpora (`action<TAB>category<TAB>reason`, with header), one per
/// language, written for this project.
pub const CORPORA: [(Language, &str, &str); 4] = [
    (
        Language::English,
        "data/sentiment/reasons.tsv",
        include_str!("../../data/sentiment/reasons.tsv"),
    ),
    (
        Language::German,
        "data/sentiment/reasons.de.tsv",
        include_str!("../../data/sentiment/reasons.de.tsv"),
    ),
    (
        Language::French,
        "data/sentiment/reasons.fr.tsv",
        include_str!("../../data/sentiment/reasons.fr.tsv"),
    ),
    (
        Language::Spanish,
        "data/sentiment/reasons.es.tsv",
        include_str!("../../data/sentiment/reasons.es.tsv"),
    ),
];

const HEADER: [&str; 3] = ["action", "category", "reason"];

/// Share of every category that goes to the held-out split.
const HELD_OUT_FRACTION: f64 = 0.2;

/// One labelled cancellation reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The language of the corpus it comes from.
    pub language: Language,
    pub action: SuggestedAction,
    pub category: String,
    pub reason: String,
}

/// Every embedded corpus, parsed (errors name the file and line).
pub fn embedded_corpus() -> Result<Vec<Example>, String> {
    let mut examples = Vec::new();
    for (language, path, text) in CORPORA {
        examples.extend(parse_tsv(text, language).map_err(|e| format!("{path}: {e}"))?);
    }
    Ok(examples)
}

/// Parses the TSV corpus format of reasons in `language`. The header line is required;
/// blank lines are skipped. Errors name the 1-based line number.
pub fn parse_tsv(text: &str, language: Language) -> Result<Vec<Example>, String> {
    let mut lines = text.lines().enumerate();
    let header = lines
        .by_ref()
        .find(|(_, line)| !line.trim().is_empty())
        .ok_or_else(|| "corpus is empty: expected header `action\tcategory\treason`".to_string())?;
    let header_columns: Vec<&str> = header.1.trim_end_matches('\r').split('\t').collect();
    if header_columns != HEADER {
        return Err(format!(
            "line {}: expected header `action\\tcategory\\treason`, found {:?}",
            header.0 + 1,
            header.1
        ));
    }

    let mut examples = Vec::new();
    for (index, raw_line) in lines {
        let line_number = index + 1;
        let line = raw_line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let columns: Vec<&str> = line.split('\t').collect();
        let [action, category, reason] = columns[..] else {
            return Err(format!(
                "line {line_number}: expected 3 tab-separated columns, found {}",
                columns.len()
            ));
        };
        let action = SuggestedAction::parse(action)
            .ok_or_else(|| format!("line {line_number}: unknown action {action:?}"))?;
        let category = category.trim();
        if !action.categories().contains(&category) {
            return Err(format!(
                "line {line_number}: category {category:?} does not belong to action {action} \
                 (expected one of {:?})",
                action.categories()
            ));
        }
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(format!("line {line_number}: empty reason"));
        }
        examples.push(Example {
            language,
            action,
            category: category.to_string(),
            reason: reason.to_string(),
        });
    }
    Ok(examples)
}

/// Splits examples into `(train, held_out)`, about 80/20.
///
/// Stratified by `(language, action, category)`, so each language's held-out split is
/// chosen by the same rule alone: inside each group the examples with the
/// lowest FNV-1a hashes of their reason text are held out. The hash is fixed
/// (unlike std's randomised hasher), so the split is identical across runs and
/// platforms, and adding a line to the corpus moves at most one example per
/// group. Both outputs keep the input order.
pub fn split(examples: &[Example]) -> (Vec<Example>, Vec<Example>) {
    // (language, action, category) -> (hash of the reason, position) of its examples.
    type Groups<'a> = BTreeMap<(Language, SuggestedAction, &'a str), Vec<(u64, usize)>>;
    let mut groups: Groups<'_> = BTreeMap::new();
    for (index, example) in examples.iter().enumerate() {
        groups
            .entry((example.language, example.action, example.category.as_str()))
            .or_default()
            .push((fnv1a(example.reason.as_bytes()), index));
    }

    let mut held_out_flags = vec![false; examples.len()];
    for members in groups.values_mut() {
        members.sort_unstable();
        let held_out_count = (members.len() as f64 * HELD_OUT_FRACTION).round() as usize;
        for &(_, index) in members.iter().take(held_out_count) {
            held_out_flags[index] = true;
        }
    }

    let mut train = Vec::with_capacity(examples.len());
    let mut held_out = Vec::new();
    for (example, is_held_out) in examples.iter().zip(held_out_flags) {
        if is_held_out {
            held_out.push(example.clone());
        } else {
            train.push(example.clone());
        }
    }
    (train, held_out)
}

/// 64-bit FNV-1a: tiny, fast and identical on every platform.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = FNV_OFFSET;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
pub(crate) const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn corpus() -> Vec<Example> {
        embedded_corpus().expect("embedded corpora parse")
    }

    fn in_language(language: Language) -> Vec<Example> {
        corpus()
            .into_iter()
            .filter(|e| e.language == language)
            .collect()
    }

    #[test]
    fn every_corpus_parses_and_is_large_enough() {
        assert!(in_language(Language::English).len() >= 800);
        for language in [Language::German, Language::French, Language::Spanish] {
            let count = in_language(language).len();
            assert!(count >= 300, "{language}: only {count} examples");
        }
    }

    #[test]
    fn every_corpus_is_balanced_across_actions() {
        for language in Language::ALL {
            let examples = in_language(language);
            for action in SuggestedAction::ALL {
                let count = examples.iter().filter(|e| e.action == action).count();
                let share = count as f64 / examples.len() as f64;
                assert!(
                    share >= 0.15,
                    "{language}: {action} has only {count} rows ({share:.3})"
                );
            }
        }
    }

    #[test]
    fn every_category_belongs_to_its_action_and_is_used_in_every_language() {
        let examples = corpus();
        for example in &examples {
            assert!(
                example
                    .action
                    .categories()
                    .contains(&example.category.as_str()),
                "{example:?}"
            );
        }
        for language in Language::ALL {
            let minimum = if language == Language::English {
                20
            } else {
                12
            };
            for action in SuggestedAction::ALL {
                for category in action.categories() {
                    let count = examples
                        .iter()
                        .filter(|e| e.language == language && e.category == *category)
                        .count();
                    assert!(
                        count >= minimum,
                        "{language}: category {category} has only {count} examples"
                    );
                }
            }
        }
    }

    #[test]
    fn corpus_has_no_duplicate_reasons() {
        let mut seen = HashSet::new();
        for example in corpus() {
            assert!(
                seen.insert(example.reason.to_lowercase()),
                "duplicate reason {:?}",
                example.reason
            );
        }
    }

    #[test]
    fn split_is_deterministic_disjoint_and_stratified_per_language() {
        let examples = corpus();
        let (train, held_out) = split(&examples);
        let (train_again, held_out_again) = split(&examples);
        assert_eq!(train, train_again);
        assert_eq!(held_out, held_out_again);
        assert_eq!(train.len() + held_out.len(), examples.len());

        let train_reasons: HashSet<&str> = train.iter().map(|e| e.reason.as_str()).collect();
        assert!(held_out
            .iter()
            .all(|e| !train_reasons.contains(e.reason.as_str())));

        for language in Language::ALL {
            let total = examples.iter().filter(|e| e.language == language).count();
            let kept = held_out.iter().filter(|e| e.language == language).count();
            let share = kept as f64 / total as f64;
            assert!((0.17..=0.23).contains(&share), "{language}: {share}");
            for action in SuggestedAction::ALL {
                let of = |e: &&Example| e.language == language && e.action == action;
                let in_held_out = held_out.iter().filter(of).count();
                let total = examples.iter().filter(of).count();
                let share = in_held_out as f64 / total as f64;
                assert!(
                    (0.15..=0.25).contains(&share),
                    "{language} {action}: {share}"
                );
            }
        }

        // A language's split depends on its own corpus alone: English is split as it was
        // before the other languages came.
        let english = in_language(Language::English);
        let (_, english_held_out) = split(&english);
        let held_out_english: Vec<Example> = held_out
            .into_iter()
            .filter(|e| e.language == Language::English)
            .collect();
        assert_eq!(english_held_out, held_out_english);
    }

    #[test]
    fn fnv1a_matches_reference_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn parse_errors_name_the_line() {
        let en = Language::English;
        let missing_column = "action\tcategory\treason\ndiscount\tprice\n";
        let error = parse_tsv(missing_column, en).expect_err("two columns");
        assert!(error.starts_with("line 2:"), "{error}");

        let wrong_category = "action\tcategory\treason\n\npause\tprice\ttoo pricey\n";
        let error = parse_tsv(wrong_category, en).expect_err("category of another action");
        assert!(error.starts_with("line 3:"), "{error}");

        let unknown_action = "action\tcategory\treason\nrefund\tprice\ttoo pricey\n";
        assert!(parse_tsv(unknown_action, en)
            .expect_err("unknown action")
            .starts_with("line 2:"));

        assert!(parse_tsv("reason\n", en).is_err());
        assert!(parse_tsv("", en).is_err());
    }

    #[test]
    fn parse_accepts_crlf_and_blank_lines() {
        let text = "action\tcategory\treason\r\n\r\nsupport\tbug\tça plante\r\n";
        let examples = parse_tsv(text, Language::French).expect("valid");
        assert_eq!(
            examples,
            vec![Example {
                language: Language::French,
                action: SuggestedAction::Support,
                category: "bug".to_string(),
                reason: "ça plante".to_string(),
            }]
        );
    }
}
