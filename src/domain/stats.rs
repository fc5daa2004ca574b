//! The statistics behind experiment results: Wilson intervals for a save rate, a pooled
//! two-proportion z-test against the control, and a verdict that never names a winner below
//! the configured confidence or sample size.

/// z for a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Complementary error function (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7),
/// plenty for p-values that are compared with thresholds like 0.05.
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let answer = t * poly.exp();
    if x >= 0.0 {
        answer
    } else {
        2.0 - answer
    }
}

/// Two-sided p-value of a standard normal statistic.
pub fn two_sided_p(z: f64) -> f64 {
    erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0)
}

/// Wilson score interval of `successes` out of `trials` (None without trials).
pub fn wilson(successes: u64, trials: u64, z: f64) -> Option<(f64, f64)> {
    if trials == 0 {
        return None;
    }
    let n = trials as f64;
    let p = successes.min(trials) as f64 / n;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = z / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// A comparison of an arm (b) with the control (a).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// rate(b) − rate(a)
    pub difference: f64,
    /// 95 % (unpooled, Wald) interval of the difference.
    pub interval: (f64, f64),
    pub z: f64,
    /// Two-sided p-value of the pooled two-proportion z-test.
    pub p_value: f64,
}

/// Pooled two-proportion z-test of b against a (None when either has no trials).
pub fn compare(
    a_successes: u64,
    a_trials: u64,
    b_successes: u64,
    b_trials: u64,
) -> Option<Comparison> {
    if a_trials == 0 || b_trials == 0 {
        return None;
    }
    let (n1, n2) = (a_trials as f64, b_trials as f64);
    let (s1, s2) = (
        a_successes.min(a_trials) as f64,
        b_successes.min(b_trials) as f64,
    );
    let (p1, p2) = (s1 / n1, s2 / n2);
    let difference = p2 - p1;
    let pooled = (s1 + s2) / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    // Both rates 0 % or both 100 %: no evidence of any difference.
    let (z, p_value) = if se > 0.0 {
        let z = difference / se;
        (z, two_sided_p(z))
    } else {
        (0.0, 1.0)
    };
    let spread = (p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2).sqrt() * Z95;
    Some(Comparison {
        difference,
        interval: (difference - spread, difference + spread),
        z,
        p_value,
    })
}

/// One arm's counts, as the verdict needs them.
#[derive(Debug, Clone)]
pub struct ArmCounts {
    pub name: String,
    pub control: bool,
    pub exposures: u64,
    pub saves: u64,
}

impl ArmCounts {
    fn rate(&self) -> f64 {
        if self.exposures == 0 {
            0.0
        } else {
            self.saves.min(self.exposures) as f64 / self.exposures as f64
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    NoDifferenceYet { reason: String },
    ArmWins { arm: String, reason: String },
    ControlWins { arm: String, reason: String },
}

impl Verdict {
    /// The plain-words verdict.
    pub fn text(&self) -> String {
        match self {
            Verdict::NoDifferenceYet { .. } => "no difference yet".to_owned(),
            Verdict::ArmWins { arm, .. } => format!("arm {arm} wins"),
            Verdict::ControlWins { .. } => "control wins".to_owned(),
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            Verdict::NoDifferenceYet { reason }
            | Verdict::ArmWins { reason, .. }
            | Verdict::ControlWins { reason, .. } => reason,
        }
    }

    /// The winning arm's name (the control's when the control wins).
    pub fn winner(&self) -> Option<&str> {
        match self {
            Verdict::NoDifferenceYet { .. } => None,
            Verdict::ArmWins { arm, .. } | Verdict::ControlWins { arm, .. } => Some(arm),
        }
    }
}

/// The significance level each comparison with the control must reach: 1 − confidence,
/// split over the comparisons (Bonferroni), so that with several arms the chance of any false
/// winner stays within 1 − confidence.
pub fn corrected_alpha(confidence: f64, comparisons: usize) -> f64 {
    (1.0 - confidence) / comparisons.max(1) as f64
}

/// Decides the experiment. Every arm needs `min_sample_size` exposures first. An arm wins when
/// it beats the control at the corrected level (and beats every other arm that also beats the
/// control); the control wins when it beats every other arm.
pub fn verdict(arms: &[ArmCounts], confidence: f64, min_sample_size: u64) -> Verdict {
    let Some(control) = arms.iter().find(|a| a.control) else {
        return Verdict::NoDifferenceYet {
            reason: "The experiment has no control arm.".into(),
        };
    };
    if let Some(short) = arms.iter().find(|a| a.exposures < min_sample_size) {
        return Verdict::NoDifferenceYet {
            reason: format!(
                "Arm {} has {} of the {} exposures every arm needs before a winner can be named.",
                short.name, short.exposures, min_sample_size
            ),
        };
    }
    let variants: Vec<&ArmCounts> = arms.iter().filter(|a| !a.control).collect();
    let alpha = corrected_alpha(confidence, variants.len());
    let significant = |a: &ArmCounts, b: &ArmCounts| {
        compare(a.saves, a.exposures, b.saves, b.exposures).filter(|c| c.p_value < alpha)
    };
    let better: Vec<&ArmCounts> = variants
        .iter()
        .copied()
        .filter(|v| significant(control, v).is_some_and(|c| c.difference > 0.0))
        .collect();
    let level = format!("{:.1} %", confidence * 100.0);
    if let Some(best) = better
        .iter()
        .copied()
        .max_by(|a, b| a.rate().total_cmp(&b.rate()))
    {
        let rivals: Vec<&str> = better
            .iter()
            .filter(|o| o.name != best.name)
            .filter(|o| !significant(o, best).is_some_and(|c| c.difference > 0.0))
            .map(|o| o.name.as_str())
            .collect();
        if !rivals.is_empty() {
            return Verdict::NoDifferenceYet {
                reason: format!(
                    "Arms {} and {} both beat the control at {level} confidence, but neither beats the other yet.",
                    best.name,
                    rivals.join(", ")
                ),
            };
        }
        return Verdict::ArmWins {
            arm: best.name.clone(),
            reason: format!(
                "Arm {} saves more than the control at {level} confidence{}.",
                best.name,
                if variants.len() > 1 {
                    " (corrected for the number of arms)"
                } else {
                    ""
                }
            ),
        };
    }
    let all_worse = !variants.is_empty()
        && variants
            .iter()
            .all(|v| significant(control, v).is_some_and(|c| c.difference < 0.0));
    if all_worse {
        return Verdict::ControlWins {
            arm: control.name.clone(),
            reason: format!("The control saves more than every other arm at {level} confidence."),
        };
    }
    Verdict::NoDifferenceYet {
        reason: format!("No arm differs from the control at {level} confidence yet."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() < tolerance
    }

    fn arm(name: &str, control: bool, exposures: u64, saves: u64) -> ArmCounts {
        ArmCounts {
            name: name.into(),
            control,
            exposures,
            saves,
        }
    }

    #[test]
    fn normal_tail_matches_tables() {
        assert!(close(two_sided_p(0.0), 1.0, 1e-6));
        assert!(close(two_sided_p(1.959_964), 0.05, 1e-6));
        assert!(close(two_sided_p(-2.575_829), 0.01, 1e-6));
        assert!(close(two_sided_p(3.290_527), 0.001, 1e-6));
        assert!(close(erfc(1.0), 0.157_299_207, 1e-7));
    }

    #[test]
    fn wilson_interval_matches_hand_computation() {
        // 30 of 100 at 95 %: centre (0.3 + 1.92073/100)/1.0384146 = 0.307399,
        // half 1.8874/1.0384146 × sqrt(0.0021 + 0.0000960) → [0.218949, 0.395849].
        let (low, high) = wilson(30, 100, Z95).unwrap();
        assert!(close(low, 0.218_949, 1e-5), "{low}");
        assert!(close(high, 0.395_849, 1e-5), "{high}");
        // 0 of 10 still has an upper bound; 10 of 10 a lower one.
        let (low, high) = wilson(0, 10, Z95).unwrap();
        assert_eq!(low, 0.0);
        assert!(close(high, 0.277_533, 1e-5), "{high}");
        let (low, high) = wilson(10, 10, Z95).unwrap();
        assert!(close(low, 0.722_467, 1e-5), "{low}");
        assert!(close(high, 1.0, 1e-9));
        assert_eq!(wilson(0, 0, Z95), None);
    }

    #[test]
    fn two_proportion_test_matches_hand_computation() {
        // 30/100 vs 45/100: pooled 0.375, se sqrt(0.375 × 0.625 × 0.02) = 0.0684653,
        // z = 0.15 / 0.0684653 = 2.19089, p = 0.028460.
        let c = compare(30, 100, 45, 100).unwrap();
        assert!(close(c.difference, 0.15, 1e-12));
        assert!(close(c.z, 2.190_890, 1e-5), "{}", c.z);
        assert!(close(c.p_value, 0.028_460, 1e-5), "{}", c.p_value);
        // Unpooled interval: 0.15 ± 1.96 × sqrt(0.0021 + 0.002475) = 0.15 ± 0.132570.
        assert!(close(c.interval.0, 0.017_430, 1e-5), "{:?}", c.interval);
        assert!(close(c.interval.1, 0.282_570, 1e-5), "{:?}", c.interval);
        // Identical extreme rates: no evidence.
        let c = compare(0, 50, 0, 50).unwrap();
        assert_eq!((c.z, c.p_value), (0.0, 1.0));
        assert!(compare(0, 0, 1, 2).is_none());
    }

    #[test]
    fn verdicts_respect_confidence_and_sample_size() {
        let winning = [arm("control", true, 100, 30), arm("b", false, 100, 45)];
        // p = 0.0285: a winner at 95 %, not at 99 %.
        assert_eq!(verdict(&winning, 0.95, 100).text(), "arm b wins");
        assert_eq!(verdict(&winning, 0.95, 100).winner(), Some("b"));
        assert_eq!(verdict(&winning, 0.99, 100).text(), "no difference yet");
        // Not enough exposures: never a winner, whatever the numbers say.
        let verdict_small = verdict(&winning, 0.95, 101);
        assert_eq!(verdict_small.text(), "no difference yet");
        assert!(verdict_small.reason().contains("100 of the 101"));

        let losing = [arm("control", true, 100, 45), arm("b", false, 100, 30)];
        assert_eq!(verdict(&losing, 0.95, 100).text(), "control wins");
        assert_eq!(verdict(&losing, 0.95, 100).winner(), Some("control"));

        let tied = [arm("control", true, 1000, 300), arm("b", false, 1000, 310)];
        assert_eq!(verdict(&tied, 0.95, 100).text(), "no difference yet");
    }

    #[test]
    fn several_arms_are_corrected_and_must_beat_each_other() {
        // Against the control alone b would win at 95 % (p = 0.0285), but with two variants
        // each comparison needs p < 0.025.
        let three = [
            arm("control", true, 100, 30),
            arm("b", false, 100, 45),
            arm("c", false, 100, 31),
        ];
        assert!(close(corrected_alpha(0.95, 2), 0.025, 1e-12));
        assert_eq!(verdict(&three, 0.95, 10).text(), "no difference yet");
        // Two arms that both beat the control but not each other: no winner yet.
        let close_pair = [
            arm("control", true, 1000, 200),
            arm("b", false, 1000, 300),
            arm("c", false, 1000, 310),
        ];
        let v = verdict(&close_pair, 0.95, 10);
        assert_eq!(v.text(), "no difference yet", "{v:?}");
        let clear = [
            arm("control", true, 1000, 200),
            arm("b", false, 1000, 300),
            arm("c", false, 1000, 400),
        ];
        assert_eq!(verdict(&clear, 0.95, 10).text(), "arm c wins");
        // The control wins only when it beats every arm.
        let mixed = [
            arm("control", true, 1000, 400),
            arm("b", false, 1000, 300),
            arm("c", false, 1000, 395),
        ];
        assert_eq!(verdict(&mixed, 0.95, 10).text(), "no difference yet");
    }
}
