//! Held-out evaluation: accuracy, per-class F1, confusion and calibration.

use std::fmt;

use super::corpus::Example;
use super::model::Classifier;
use super::{Language, SuggestedAction};

const ACTION_COUNT: usize = SuggestedAction::ALL.len();
const CALIBRATION_BINS: usize = 10;

/// `(action, precision, recall, f1, support)` for one action.
pub type ClassMetrics = (SuggestedAction, f64, f64, f64, usize);

/// One equal-width confidence bin of the reliability table.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationBin {
    pub lower: f64,
    pub upper: f64,
    pub count: usize,
    /// Mean predicted confidence in the bin (0 when empty).
    pub mean_confidence: f64,
    /// Share of correct predictions in the bin (0 when empty).
    pub accuracy: f64,
}

/// Metrics of a classifier on labelled examples it was not trained on.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub examples: usize,
    pub accuracy: f64,
    /// Unweighted mean of the per-action F1 scores.
    pub macro_f1: f64,
    /// One row per action, in [`SuggestedAction::ALL`] order.
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[truth][predicted]`, indexed like [`SuggestedAction::ALL`].
    pub confusion: [[usize; ACTION_COUNT]; ACTION_COUNT],
    pub calibration: Vec<CalibrationBin>,
    /// Expected calibration error: count-weighted mean |accuracy - confidence|.
    pub ece: f64,
    /// Mean negative log-probability of the true action.
    pub log_loss: f64,
    /// Share of examples whose action *and* category are both right.
    pub category_accuracy: f64,
    /// Share of examples whose detected language is their corpus's.
    pub language_accuracy: f64,
}

/// [`evaluate`] on each language's share of `held_out`, in [`Language::ALL`] order
/// (languages without examples left out).
pub fn evaluate_by_language(
    model: &Classifier,
    held_out: &[Example],
) -> Vec<(Language, Evaluation)> {
    Language::ALL
        .into_iter()
        .filter_map(|language| {
            let examples: Vec<Example> = held_out
                .iter()
                .filter(|e| e.language == language)
                .cloned()
                .collect();
            (!examples.is_empty()).then(|| (language, evaluate(model, &examples)))
        })
        .collect()
}

/// Classifies every held-out example and compares with its label.
pub fn evaluate(model: &Classifier, held_out: &[Example]) -> Evaluation {
    let mut confusion = [[0usize; ACTION_COUNT]; ACTION_COUNT];
    let mut bin_counts = [0usize; CALIBRATION_BINS];
    let mut bin_confidence = [0.0f64; CALIBRATION_BINS];
    let mut bin_correct = [0usize; CALIBRATION_BINS];
    let mut log_loss = 0.0;
    let mut category_correct = 0;
    let mut language_correct = 0;

    for example in held_out {
        let prediction = model.classify(&example.reason);
        if prediction.language == example.language {
            language_correct += 1;
        }
        let truth = example.action.index();
        let predicted = prediction.action.index();
        confusion[truth][predicted] += 1;

        // A confidence of exactly 1.0 belongs in the top bin.
        let bin =
            ((prediction.confidence * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
        bin_counts[bin] += 1;
        bin_confidence[bin] += prediction.confidence;
        if truth == predicted {
            bin_correct[bin] += 1;
            if prediction.category == example.category {
                category_correct += 1;
            }
        }
        log_loss -= prediction.probabilities[truth].max(1e-15).ln();
    }

    let total = held_out.len();
    let ratio = |numerator: f64, denominator: f64| {
        if denominator > 0.0 {
            numerator / denominator
        } else {
            0.0
        }
    };
    let correct: usize = (0..ACTION_COUNT).map(|i| confusion[i][i]).sum();

    let per_class: Vec<ClassMetrics> = SuggestedAction::ALL
        .iter()
        .map(|&action| {
            let i = action.index();
            let true_positives = confusion[i][i] as f64;
            let predicted: usize = (0..ACTION_COUNT).map(|truth| confusion[truth][i]).sum();
            let support: usize = confusion[i].iter().sum();
            let precision = ratio(true_positives, predicted as f64);
            let recall = ratio(true_positives, support as f64);
            let f1 = ratio(2.0 * precision * recall, precision + recall);
            (action, precision, recall, f1, support)
        })
        .collect();
    let macro_f1 = per_class.iter().map(|row| row.3).sum::<f64>() / ACTION_COUNT as f64;

    let calibration: Vec<CalibrationBin> = (0..CALIBRATION_BINS)
        .map(|bin| CalibrationBin {
            lower: bin as f64 / CALIBRATION_BINS as f64,
            upper: (bin + 1) as f64 / CALIBRATION_BINS as f64,
            count: bin_counts[bin],
            mean_confidence: ratio(bin_confidence[bin], bin_counts[bin] as f64),
            accuracy: ratio(bin_correct[bin] as f64, bin_counts[bin] as f64),
        })
        .collect();
    let ece = calibration
        .iter()
        .map(|bin| bin.count as f64 * (bin.accuracy - bin.mean_confidence).abs())
        .sum::<f64>();

    Evaluation {
        examples: total,
        accuracy: ratio(correct as f64, total as f64),
        macro_f1,
        per_class,
        confusion,
        calibration,
        ece: ratio(ece, total as f64),
        log_loss: ratio(log_loss, total as f64),
        category_accuracy: ratio(category_correct as f64, total as f64),
        language_accuracy: ratio(language_correct as f64, total as f64),
    }
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Held-out examples: {}", self.examples)?;
        writeln!(f, "Accuracy:          {:.3}", self.accuracy)?;
        writeln!(f, "Macro-F1:          {:.3}", self.macro_f1)?;
        writeln!(f, "Log-loss:          {:.3}", self.log_loss)?;
        writeln!(f, "Action+category:   {:.3}", self.category_accuracy)?;
        writeln!(f, "ECE (10 bins):     {:.3}", self.ece)?;
        writeln!(f, "Language detected: {:.3}", self.language_accuracy)?;

        writeln!(f)?;
        writeln!(
            f,
            "{:<12} {:>9} {:>9} {:>9} {:>9}",
            "action", "precision", "recall", "f1", "support"
        )?;
        for (action, precision, recall, f1, support) in &self.per_class {
            writeln!(
                f,
                "{action:<12} {precision:>9.3} {recall:>9.3} {f1:>9.3} {support:>9}"
            )?;
        }

        writeln!(f)?;
        writeln!(f, "Confusion matrix (rows = truth, columns = predicted):")?;
        write!(f, "{:<12}", "")?;
        for action in SuggestedAction::ALL {
            write!(f, " {:>10}", action.as_str())?;
        }
        writeln!(f)?;
        for action in SuggestedAction::ALL {
            write!(f, "{:<12}", action.as_str())?;
            for count in self.confusion[action.index()] {
                write!(f, " {count:>10}")?;
            }
            writeln!(f)?;
        }

        writeln!(f)?;
        writeln!(f, "Calibration (confidence of the predicted action):")?;
        writeln!(
            f,
            "{:<11} {:>6} {:>15} {:>9}",
            "bin", "count", "mean confidence", "accuracy"
        )?;
        for bin in &self.calibration {
            let range = format!("{:.1}-{:.1}", bin.lower, bin.upper);
            if bin.count == 0 {
                writeln!(f, "{range:<11} {:>6} {:>15} {:>9}", 0, "-", "-")?;
            } else {
                writeln!(
                    f,
                    "{range:<11} {:>6} {:>15.3} {:>9.3}",
                    bin.count, bin.mean_confidence, bin.accuracy
                )?;
            }
        }
        write!(f, "Expected calibration error: {:.3}", self.ece)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_fixture;
    use super::*;

    #[test]
    fn held_out_macro_f1_meets_the_floor_in_every_language() {
        let (model, _, held_out) = test_fixture();
        let by_language = evaluate_by_language(model, held_out);
        assert_eq!(by_language.len(), Language::ALL.len());
        for (language, evaluation) in by_language {
            assert!(
                evaluation.macro_f1 >= 0.85,
                "{language}: macro-F1 {:.3}\n{evaluation}",
                evaluation.macro_f1
            );
        }
    }

    #[test]
    fn held_out_confidence_is_calibrated_in_every_language() {
        let (model, _, held_out) = test_fixture();
        for (language, evaluation) in evaluate_by_language(model, held_out) {
            assert!(
                evaluation.ece <= 0.10,
                "{language}: ECE {:.3}\n{evaluation}",
                evaluation.ece
            );
        }
    }

    #[test]
    fn held_out_languages_are_detected() {
        let (model, _, held_out) = test_fixture();
        for (language, evaluation) in evaluate_by_language(model, held_out) {
            assert!(
                evaluation.language_accuracy >= 0.9,
                "{language}: {:.3}",
                evaluation.language_accuracy
            );
        }
    }

    #[test]
    fn report_is_consistent() {
        let (model, _, held_out) = test_fixture();
        let evaluation = evaluate(model, held_out);
        let counted: usize = evaluation.confusion.iter().flatten().sum();
        assert_eq!(counted, held_out.len());
        let binned: usize = evaluation.calibration.iter().map(|bin| bin.count).sum();
        assert_eq!(binned, held_out.len());
        let supports: usize = evaluation.per_class.iter().map(|row| row.4).sum();
        assert_eq!(supports, held_out.len());
        let per_language: usize = evaluate_by_language(model, held_out)
            .iter()
            .map(|(_, e)| e.examples)
            .sum();
        assert_eq!(per_language, held_out.len());

        let report = evaluation.to_string();
        for needle in [
            "Accuracy",
            "Macro-F1",
            "setup_call",
            "Confusion",
            "ECE",
            "Language",
        ] {
            assert!(report.contains(needle), "missing {needle}:\n{report}");
        }
    }

    #[test]
    fn empty_held_out_set_gives_zeroes_not_nan() {
        let (model, _, _) = test_fixture();
        let evaluation = evaluate(model, &[]);
        assert_eq!(evaluation.examples, 0);
        assert_eq!(evaluation.accuracy, 0.0);
        assert_eq!(evaluation.ece, 0.0);
        assert!(evaluation.macro_f1.is_finite());
        assert!(evaluate_by_language(model, &[]).is_empty());
    }
}
