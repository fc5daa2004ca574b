//! Prediction: the calibrated action and, among that action's categories, the likeliest one.

use std::cell::RefCell;

use super::features::extract_features_split;
use super::softmax::{argmax, softmax};
use super::vocabulary::{index_features, SparseVector};
use super::{Classifier, Prediction, ACTION_COUNT, LANGUAGE_COUNT};
use crate::sentiment::language::detect_reliably;
use crate::sentiment::polarity::polarity;
use crate::sentiment::Language;
use crate::sentiment::SuggestedAction;

impl Classifier {
    /// Classifies one free-text cancellation reason, in whichever of the four languages.
    pub fn classify(&self, text: &str) -> Prediction {
        self.classify_with_polarity(text, polarity(text))
    }

    /// `classify`, for a caller that has the text's `polarity` already (it is one of the
    /// model's features, and costs about as much as the rest of them together).
    pub fn classify_with_polarity(&self, text: &str, tone: f64) -> Prediction {
        let (features, unigrams) = extract_features_split(text, &self.config, tone);
        let words = unigrams.as_slice();
        let sure = detect_reliably(text);
        // Both models extract features alike: only their columns differ.
        if let (Some(english), Some(Language::English)) = (&self.english, sure) {
            let prediction = english.read(&english.vector_of(&features), Language::English);
            return english.unless_unread(prediction, words);
        }
        let vector = self.vector_of(&features);
        let language = sure.unwrap_or_else(|| self.head_language(&vector));
        match &self.english {
            Some(english) if language == Language::English => {
                let prediction = english.read(&english.vector_of(&features), language);
                english.unless_unread(prediction, words)
            }
            _ => self.unless_unread(self.read(&vector, language), words),
        }
    }

    /// `prediction`, unless the model knows none of the reason's words ("???", "asdf", a
    /// language it was not trained on): then its answer rests on character n-grams and
    /// style features alone (a short text reads like a short rant) and is a guess, so its probabilities are
    /// mostly flattened towards uniform, keeping their order. Such a reading stays below
    /// any sensible `sentiment.ticket_min_confidence` and opens no ticket.
    fn unless_unread(&self, mut prediction: Prediction, words: &[u64]) -> Prediction {
        if words.iter().any(|key| self.vocabulary.contains_key(key)) {
            return prediction;
        }
        const KEPT: f64 = 0.2;
        let uniform = 1.0 / ACTION_COUNT as f64;
        for probability in &mut prediction.probabilities {
            *probability = KEPT * *probability + (1.0 - KEPT) * uniform;
        }
        prediction.confidence = prediction.probabilities[prediction.action.index()];
        prediction
    }

    /// The prediction for a reason's vector in this model's columns, in `language`.
    fn read(&self, vector: &SparseVector, language: Language) -> Prediction {
        let temperature = self.temperatures[language.index()];
        let mut logits = self.action_head.logits(vector, 0..ACTION_COUNT);
        for logit in &mut logits {
            *logit /= temperature;
        }
        let probabilities = softmax(&logits);
        let best_action = argmax(&probabilities);
        let mut action_probabilities = [0.0; ACTION_COUNT];
        action_probabilities.copy_from_slice(&probabilities);
        let action = SuggestedAction::ALL[best_action];

        let candidates = self.category_ranges[best_action].clone();
        let (category, category_confidence) = if candidates.is_empty() {
            // Only possible when the action had no training examples.
            (String::new(), 0.0)
        } else {
            let category_probabilities =
                softmax(&self.category_head.logits(vector, candidates.clone()));
            let best = argmax(&category_probabilities);
            (
                self.categories[candidates.start + best].clone(),
                category_probabilities[best],
            )
        };

        Prediction {
            action,
            confidence: probabilities[best_action],
            category,
            category_confidence,
            probabilities: action_probabilities,
            language,
        }
    }
}

impl Classifier {
    /// The features' vector in this model's columns.
    fn vector_of(&self, features: &[(u64, f64)]) -> SparseVector {
        CLASSIFY_SLOTS.with_borrow_mut(|slots| {
            let columns = self.vocabulary.len();
            if slots.len() < columns {
                slots.resize(columns, 0);
            }
            index_features(features, &self.vocabulary, &mut slots[..columns])
        })
    }

    /// The language head's answer (it knows the corpora's words, where `whatlang`, asked
    /// first, knows general text); English for a text with no known feature.
    fn head_language(&self, vector: &SparseVector) -> Language {
        if vector.is_empty() {
            return Language::FALLBACK;
        }
        Language::ALL[argmax(&self.language_head.logits(vector, 0..LANGUAGE_COUNT))]
    }
}

thread_local! {
    /// `index_features`' scratch for `classify`, as long as the largest vocabulary this
    /// thread has used and all zeros between calls: allocating and zeroing a new one for
    /// each reason was a fifth of a sentiment request's instructions (callgrind).
    static CLASSIFY_SLOTS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentiment::test_fixture;

    #[test]
    fn predictions_are_well_formed() {
        let (model, _, _) = test_fixture();
        for text in ["", "???", "too pricey", "xqzv blorf"] {
            let prediction = model.classify(text);
            let total: f64 = prediction.probabilities.iter().sum();
            assert!((total - 1.0).abs() < 1e-9, "{text}: {total}");
            assert_eq!(
                prediction.confidence,
                prediction.probabilities[prediction.action.index()]
            );
            assert!(prediction
                .action
                .categories()
                .contains(&prediction.category.as_str()));
            assert!((0.0..=1.0).contains(&prediction.category_confidence));
        }
        assert!(model.temperature().is_finite() && model.temperature() > 0.0);
    }

    #[test]
    fn clear_reasons_get_the_expected_action_and_category() {
        let (model, _, _) = test_fixture();
        let cases = [
            (
                "way too expensive for us",
                SuggestedAction::Discount,
                "price",
            ),
            (
                "we're a ski school and it's the off season",
                SuggestedAction::Pause,
                "seasonal",
            ),
            (
                "the app crashes every time I open it",
                SuggestedAction::Support,
                "bug",
            ),
            (
                "we are closing the business for good",
                SuggestedAction::None,
                "business_closed",
            ),
            (
                "we never finished the setup, the integration was too hard",
                SuggestedAction::SetupCall,
                "onboarding",
            ),
        ];
        for (text, action, category) in cases {
            let prediction = model.classify(text);
            assert_eq!(prediction.action, action, "{text}: {prediction:?}");
            assert_eq!(prediction.category, category, "{text}: {prediction:?}");
        }
    }

    #[test]
    fn a_reason_without_a_known_word_is_a_guess() {
        let (model, _, _) = test_fixture();
        for text in [".", "???", "asdf", "xqzv blorf", "zbyt drogie", ""] {
            let prediction = model.classify(text);
            assert!(prediction.confidence < 0.4, "{text:?}: {prediction:?}");
            let total: f64 = prediction.probabilities.iter().sum();
            assert!((total - 1.0).abs() < 1e-9, "{text:?}: {total}");
        }
        assert!(model.classify("way too expensive").confidence > 0.8);
    }

    #[test]
    fn reasons_in_german_french_and_spanish_are_read_for_what_they_say() {
        use crate::sentiment::Language::{French, German, Spanish};
        let (model, _, _) = test_fixture();
        let cases = [
            (
                "Zu teuer für unser kleines Team, wir kündigen",
                German,
                SuggestedAction::Discount,
            ),
            (
                "Wir machen Winterpause und sind im Frühjahr zurück",
                German,
                SuggestedAction::Pause,
            ),
            (
                "Seit dem Update stürzt die App ständig ab",
                German,
                SuggestedAction::Support,
            ),
            (
                "Trop cher pour nous en ce moment",
                French,
                SuggestedAction::Discount,
            ),
            (
                "On n'a jamais réussi à configurer l'outil",
                French,
                SuggestedAction::SetupCall,
            ),
            (
                "Nous fermons définitivement l'entreprise",
                French,
                SuggestedAction::None,
            ),
            (
                "Es demasiado caro para nosotros",
                Spanish,
                SuggestedAction::Discount,
            ),
            (
                "La aplicación se cae todo el tiempo y perdimos datos",
                Spanish,
                SuggestedAction::Support,
            ),
            (
                "Cerramos el negocio a final de mes",
                Spanish,
                SuggestedAction::None,
            ),
        ];
        for (text, language, action) in cases {
            let prediction = model.classify(text);
            assert_eq!(prediction.language, language, "{text}: {prediction:?}");
            assert_eq!(prediction.action, action, "{text}: {prediction:?}");
        }
    }

    #[test]
    fn negated_price_complaints_are_not_discounts() {
        let (model, _, _) = test_fixture();
        let cases = [
            (
                "not too expensive, we just never use it",
                SuggestedAction::SetupCall,
            ),
            (
                "it isn't the cost at all, honestly our staff just never log in",
                SuggestedAction::SetupCall,
            ),
            (
                "price is fine but the app keeps crashing",
                SuggestedAction::Support,
            ),
        ];
        for (text, expected) in cases {
            let prediction = model.classify(text);
            assert_ne!(prediction.action, SuggestedAction::Discount, "{text}");
            assert_eq!(prediction.action, expected, "{text}: {prediction:?}");
        }
        assert_eq!(
            model.classify("I'll be back in spring").action,
            SuggestedAction::Pause
        );
    }
}
