//! The rooms of `src/` and what each may use (ARCHITECTURE.md, "Rooms"): HTTP is one way
//! in, so no rule or actor may depend on it; the domain depends on nothing of ours or of the
//! runtime; and no source file grows past what a reader can hold.
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Code lines (comments dropped) of every file in a room that name one of `forbidden`.
fn uses_of(room: &str, forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in rust_files(&src().join(room)) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for name in forbidden {
                if code.contains(name) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, code));
                }
            }
        }
    }
    found
}

#[test]
fn no_room_but_http_knows_http() {
    for room in ["actors", "domain", "store", "stripe", "sentiment", "jobs"] {
        let found = uses_of(room, &["crate::http", "actix_web"]);
        assert!(
            found.is_empty(),
            "{room}/ uses the HTTP layer:\n{}",
            found.join("\n")
        );
    }
}

#[test]
fn the_domain_depends_on_nothing_but_itself() {
    let found = uses_of(
        "domain",
        &[
            "crate::actors",
            "crate::store",
            "crate::jobs",
            "crate::stripe",
            "crate::sentiment",
            "actix",
            "sea_orm",
            "entity::",
            "redis",
            "reqwest",
        ],
    );
    assert!(
        found.is_empty(),
        "domain/ reaches outside itself:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_database_side_answers_to_no_actor_and_http_reaches_it_through_actors() {
    let found = uses_of("store", &["crate::actors"]);
    assert!(
        found.is_empty(),
        "store/ uses actors:\n{}",
        found.join("\n")
    );
    let found = uses_of("http", &["crate::store"]);
    assert!(
        found.is_empty(),
        "http/ skips the actors:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_source_file_is_longer_than_a_reader_can_hold() {
    let long: Vec<String> = rust_files(&src())
        .into_iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", file.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "over {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}
