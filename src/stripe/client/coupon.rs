//! Coupons: the parameters Saveloops creates them with, and the object Stripe returns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Stripe's `duration` of a coupon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "duration")]
pub enum CouponDuration {
    Once,
    Repeating { duration_in_months: u32 },
    Forever,
}

impl CouponDuration {
    /// The value of Stripe's `duration` parameter.
    pub fn as_str(&self) -> &'static str {
        match self {
            CouponDuration::Once => "once",
            CouponDuration::Repeating { .. } => "repeating",
            CouponDuration::Forever => "forever",
        }
    }

    pub fn months(&self) -> Option<u32> {
        match self {
            CouponDuration::Repeating { duration_in_months } => Some(*duration_in_months),
            _ => None,
        }
    }
}

/// Parameters for `POST /v1/coupons` (percent-off coupons only: that is all
/// Saveloops offers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CouponParams {
    /// Our own, deterministic coupon id so that the same offer maps to the
    /// same coupon (and a retry finds it instead of creating a twin).
    pub id: String,
    /// 0 < percent_off <= 100, at most two decimals.
    pub percent_off: f64,
    pub duration: CouponDuration,
    /// Shown on invoices and in the Dashboard (Stripe allows 40 chars).
    pub name: Option<String>,
    /// Sent as `metadata[k]=v`.
    pub metadata: BTreeMap<String, String>,
}

impl CouponParams {
    /// The form body, in a stable order (the order matters for nothing at
    /// Stripe, but stable output keeps request logs and tests readable).
    pub fn to_form(&self) -> Vec<(String, String)> {
        let mut form = vec![
            ("id".to_string(), self.id.clone()),
            ("percent_off".to_string(), format_percent(self.percent_off)),
            ("duration".to_string(), self.duration.as_str().to_string()),
        ];
        if let Some(months) = self.duration.months() {
            form.push(("duration_in_months".to_string(), months.to_string()));
        }
        if let Some(name) = &self.name {
            form.push(("name".to_string(), name.clone()));
        }
        for (k, v) in &self.metadata {
            form.push((format!("metadata[{k}]"), v.clone()));
        }
        form
    }
}

/// `20.0` → `"20"`, `12.5` → `"12.5"`, `33.333` → `"33.33"`.
pub fn format_percent(p: f64) -> String {
    let s = format!("{:.2}", (p * 100.0).round() / 100.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A coupon as Stripe returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coupon {
    pub id: String,
    #[serde(default)]
    pub percent_off: Option<f64>,
    #[serde(default)]
    pub amount_off: Option<i64>,
    /// `once` | `repeating` | `forever`.
    #[serde(default)]
    pub duration: String,
    #[serde(default)]
    pub duration_in_months: Option<i64>,
    #[serde(default)]
    pub name: Option<String>,
    /// False once the coupon has expired or been used up.
    #[serde(default = "default_true")]
    pub valid: bool,
}

fn default_true() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_formatting() {
        assert_eq!(format_percent(20.0), "20");
        assert_eq!(format_percent(12.5), "12.5");
        assert_eq!(format_percent(33.3333), "33.33");
        assert_eq!(format_percent(100.0), "100");
    }

    #[test]
    fn coupon_form() {
        let p = CouponParams {
            id: "c1".into(),
            percent_off: 25.0,
            duration: CouponDuration::Repeating {
                duration_in_months: 3,
            },
            name: Some("n".into()),
            metadata: [("a".to_string(), "b".to_string())].into(),
        };
        let f = p.to_form();
        let get = |k: &str| f.iter().find(|(kk, _)| kk == k).map(|(_, v)| v.as_str());
        assert_eq!(get("id"), Some("c1"));
        assert_eq!(get("percent_off"), Some("25"));
        assert_eq!(get("duration"), Some("repeating"));
        assert_eq!(get("duration_in_months"), Some("3"));
        assert_eq!(get("metadata[a]"), Some("b"));
        let once = CouponParams {
            duration: CouponDuration::Once,
            ..p
        };
        assert!(once
            .to_form()
            .iter()
            .all(|(k, _)| k != "duration_in_months"));
    }
}
