use serde::{Deserialize, Serialize};

/// What made the cancel flow appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Click,
    ExitIntent,
    Hover,
}

impl Trigger {
    pub const NAMES: [&'static str; 3] = ["click", "exit_intent", "hover"];

    pub fn parse(raw: &str) -> Option<Trigger> {
        match raw {
            "click" => Some(Trigger::Click),
            "exit_intent" => Some(Trigger::ExitIntent),
            "hover" => Some(Trigger::Hover),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Click => "click",
            Trigger::ExitIntent => "exit_intent",
            Trigger::Hover => "hover",
        }
    }
}
