//! The Grafana dashboard (`ops/grafana/saveloops.json`) and the Prometheus alert rules
//! (`ops/prometheus/alerts.yml`) parse, and every Saveloops metric they name is exported by
//! `/metrics` of a running service.
use std::collections::BTreeSet;

use serde_json::Value;

use crate::ops_support::{ops_app, scrape};

const DASHBOARD: &str = include_str!("../../ops/grafana/saveloops.json");
const ALERTS: &str = include_str!("../../ops/prometheus/alerts.yml");

/// The `saveloops_…` metric names an expression reads (a histogram's `_bucket` series count as
/// the histogram).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("saveloops_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let family = name
            .strip_suffix("_bucket")
            .or_else(|| name.strip_suffix("_count"))
            .or_else(|| name.strip_suffix("_sum"))
            .unwrap_or(name);
        names.push(family.to_owned());
        rest = &tail[end..];
    }
    names
}

/// The families `/metrics` describes (`# TYPE name kind`).
fn exported(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn dashboard_exprs() -> Vec<String> {
    let dashboard: Value = serde_json::from_str(DASHBOARD).expect("the dashboard is JSON");
    assert_eq!(dashboard["uid"], "saveloops");
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut exprs = Vec::new();
    for panel in panels {
        if panel["type"] == "row" {
            continue;
        }
        assert!(panel["title"].as_str().is_some_and(|t| !t.is_empty()));
        let targets = panel["targets"].as_array().expect("a panel has targets");
        assert!(!targets.is_empty(), "{panel}");
        for target in targets {
            exprs.push(target["expr"].as_str().expect("expr").to_owned());
        }
    }
    exprs
}

fn alert_exprs() -> Vec<(String, String)> {
    let rules: serde_yaml::Value = serde_yaml::from_str(ALERTS).expect("the alert rules are YAML");
    let mut alerts = Vec::new();
    for group in rules["groups"].as_sequence().expect("groups") {
        assert!(group["name"].as_str().is_some());
        for rule in group["rules"].as_sequence().expect("rules") {
            let name = rule["alert"].as_str().expect("an alert's name").to_owned();
            let expr = rule["expr"].as_str().expect("an alert's expr").to_owned();
            assert!(rule["labels"]["severity"].as_str().is_some(), "{name}");
            assert!(rule["annotations"]["summary"].as_str().is_some(), "{name}");
            alerts.push((name, expr));
        }
    }
    alerts
}

#[actix_web::test]
async fn the_dashboard_and_the_alerts_name_only_metrics_the_service_exports() {
    let (app, _stripe) = ops_app(|_| {}).await;
    let text = scrape(&app).await;
    let families = exported(&text);

    let mut named = BTreeSet::new();
    for expr in dashboard_exprs() {
        for name in metric_names(&expr) {
            assert!(
                families.contains(&name),
                "the dashboard reads {name}: {expr}"
            );
            named.insert(name);
        }
    }
    let alerts = alert_exprs();
    for (alert, expr) in &alerts {
        for name in metric_names(expr) {
            assert!(families.contains(&name), "{alert} reads {name}: {expr}");
            named.insert(name);
        }
    }
    // The four concerns each have an alert.
    let names: Vec<&str> = alerts.iter().map(|(name, _)| name.as_str()).collect();
    for wanted in [
        "SaveloopsQueueGrowing",
        "SaveloopsDeadJobs",
        "SaveloopsStripeErrors",
        "SaveloopsNotReady",
    ] {
        assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
    }
    // The dashboard shows every family the service exports, the readiness gauges included.
    for family in &families {
        assert!(named.contains(family), "nothing shows {family}");
    }
    assert_eq!(
        crate::ops_support::metric(&text, "saveloops_ready", &[]),
        Some(1.0)
    );
    assert_eq!(
        crate::ops_support::metric(
            &text,
            "saveloops_dependency_up",
            &[("dependency", "database")]
        ),
        Some(1.0)
    );
}
