//! Monthly recurring revenue, kept exact: stored as an integer count of ten-thousandths of
//! the currency unit, so SQLite and PostgreSQL hold the same value and sums never drift.

/// A non-negative MRR amount with at most four decimal places (more are rounded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mrr(i64);

const SCALE: i64 = 10_000;
/// A trillion a month is more than any subscription; above it a number is a mistake.
const MAX_UNITS: i64 = 1_000_000_000_000;

#[derive(Debug, PartialEq, Eq)]
pub enum MrrError {
    Negative,
    TooLarge,
}

impl Mrr {
    /// Parses the decimal text of a JSON number exactly (no float rounding); past 4 decimals
    /// it rounds half away from zero.
    pub fn parse_decimal(text: &str) -> Result<Mrr, MrrError> {
        let text = text.trim();
        if let Some(magnitude) = text.strip_prefix('-') {
            // "-0" is zero, anything else negative is refused.
            return if magnitude.chars().all(|c| c == '0' || c == '.') {
                Ok(Mrr(0))
            } else {
                Err(MrrError::Negative)
            };
        }
        let (mantissa, exponent) = match text.find(['e', 'E']) {
            Some(at) => (
                &text[..at],
                text[at + 1..]
                    .parse::<i32>()
                    .map_err(|_| MrrError::TooLarge)?,
            ),
            None => (text, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits: String = format!("{whole}{fraction}");
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(MrrError::TooLarge);
        }
        // value = digits × 10^(exponent − len(fraction)); we want value × 10^4.
        let shift = exponent - fraction.len() as i32 + 4;
        let digits = digits.trim_start_matches('0');
        if digits.is_empty() {
            return Ok(Mrr(0));
        }
        if shift < 0 {
            // More than 4 decimals: rounded half away from zero, after the bound is checked on
            // the value as given.
            let cut = (-shift) as usize;
            let (kept, dropped) = if cut >= digits.len() {
                ("", digits)
            } else {
                digits.split_at(digits.len() - cut)
            };
            let kept = if kept.is_empty() {
                Mrr(0)
            } else {
                Self::from_digits(kept, 0)?
            };
            if !dropped.chars().any(|c| c != '0') {
                return Ok(kept);
            }
            if kept.0 >= MAX_UNITS * SCALE {
                return Err(MrrError::TooLarge);
            }
            // The first dropped digit decides; it is an implicit 0 when `cut` exceeds them all.
            let rounds_up = cut == dropped.len() && dropped.as_bytes()[0] >= b'5';
            return Ok(Mrr(kept.0 + i64::from(rounds_up)));
        }
        Self::from_digits(digits, shift as usize)
    }

    fn from_digits(digits: &str, zeros: usize) -> Result<Mrr, MrrError> {
        if digits.len() + zeros > 17 {
            return Err(MrrError::TooLarge);
        }
        let units: i64 = format!("{digits}{}", "0".repeat(zeros))
            .parse()
            .map_err(|_| MrrError::TooLarge)?;
        if units > MAX_UNITS * SCALE {
            return Err(MrrError::TooLarge);
        }
        Ok(Mrr(units))
    }

    pub fn from_storage(units: i64) -> Mrr {
        Mrr(units)
    }

    /// Ten-thousandths of the currency unit.
    pub fn to_storage(self) -> i64 {
        self.0
    }

    /// For JSON output; exact for every value we accept.
    pub fn to_json(self) -> serde_json::Value {
        let text = format!("{}.{:04}", self.0 / SCALE, self.0 % SCALE);
        let text = text.trim_end_matches('0').trim_end_matches('.');
        serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::{Mrr, MrrError};

    #[test]
    fn parses_exactly() {
        assert_eq!(Mrr::parse_decimal("29").unwrap().to_storage(), 290_000);
        assert_eq!(Mrr::parse_decimal("29.99").unwrap().to_storage(), 299_900);
        assert_eq!(Mrr::parse_decimal("0.1").unwrap().to_storage(), 1_000);
        assert_eq!(Mrr::parse_decimal("1e2").unwrap().to_storage(), 1_000_000);
        assert_eq!(Mrr::parse_decimal("2.5E-1").unwrap().to_storage(), 2_500);
        assert_eq!(Mrr::parse_decimal("0").unwrap().to_storage(), 0);
        assert_eq!(Mrr::parse_decimal("-0.0").unwrap().to_storage(), 0);
        assert_eq!(Mrr::parse_decimal("33.3330").unwrap().to_storage(), 333_330);
    }

    #[test]
    fn rounds_past_four_decimals() {
        assert_eq!(Mrr::parse_decimal("0.00001").unwrap().to_storage(), 0);
        assert_eq!(Mrr::parse_decimal("0.00005").unwrap().to_storage(), 1);
        assert_eq!(
            Mrr::parse_decimal("0.00030000000000000003")
                .unwrap()
                .to_storage(),
            3
        );
        assert_eq!(
            Mrr::parse_decimal("29.99995").unwrap().to_storage(),
            300_000
        );
        assert_eq!(Mrr::parse_decimal("1.5e-5").unwrap().to_storage(), 0);
        assert_eq!(
            Mrr::parse_decimal("9.99999e-1").unwrap().to_storage(),
            10_000
        );
        assert_eq!(Mrr::parse_decimal("1e-400").unwrap().to_storage(), 0);
    }

    #[test]
    fn refuses_negative_too_precise_and_huge() {
        assert_eq!(Mrr::parse_decimal("-1"), Err(MrrError::Negative));
        assert_eq!(
            Mrr::parse_decimal("1000000000000.00001"),
            Err(MrrError::TooLarge)
        );
        assert_eq!(Mrr::parse_decimal("1e30"), Err(MrrError::TooLarge));
    }

    #[test]
    fn renders_back_to_a_json_number() {
        assert_eq!(
            Mrr::parse_decimal("29.90").unwrap().to_json(),
            serde_json::json!(29.9)
        );
        assert_eq!(
            Mrr::parse_decimal("29").unwrap().to_json(),
            serde_json::json!(29)
        );
    }
}
