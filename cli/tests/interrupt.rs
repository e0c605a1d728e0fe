//! Interrupting `calibr8 quantize` at every write step of the output set, with SIGINT, SIGTERM
//! and SIGKILL: the output folder must hold the old complete set or the new complete set,
//! never a mix; SIGINT / SIGTERM leave nothing beside it; what SIGKILL leaves is removed by the
//! next run into the same place.
//! See: https://github.com/calibr8/calibr8/issues/10
#![cfg(unix)]

mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Steps of a commit of the 5 artifacts: prepare, 5 writes, carry-over, sync, swap, cleanup.
const STEPS: usize = 10;

fn quantize_cmd(out: &Path, new_set: bool) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_calibr8"));
    cmd.args([
        "quantize",
        repo(MODEL).to_str().unwrap(),
        "--calib",
        repo(CALIB).to_str().unwrap(),
        "--method",
        "minmax",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    // The new set differs from the old one in every artifact that holds weight scales.
    if new_set {
        cmd.arg("--per-tensor-weights");
    }
    cmd
}

fn run_ok(out: &Path, new_set: bool) {
    let o = quantize_cmd(out, new_set).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

fn restore(out: &Path, snap: &BTreeMap<PathBuf, Vec<u8>>) {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).unwrap();
    for (p, bytes) in snap {
        std::fs::write(out.join(p), bytes).unwrap();
    }
}

#[test]
fn issue_10_interrupted_runs_leave_the_old_or_the_new_complete_set() {
    let dir = tempfile::tempdir().unwrap();
    // Reference sets, each with a file of the user's that must survive.
    let (ref_old, ref_new) = (dir.path().join("ref_old"), dir.path().join("ref_new"));
    run_ok(&ref_old, false);
    run_ok(&ref_new, true);
    std::fs::write(ref_old.join("notes.txt"), "mine").unwrap();
    std::fs::write(ref_new.join("notes.txt"), "mine").unwrap();
    let (old, new) = (snapshot(&ref_old), snapshot(&ref_new));
    assert_ne!(old, new);
    assert_eq!(old.len(), ARTIFACTS.len() + 1);

    let place = dir.path().join("place");
    std::fs::create_dir(&place).unwrap();
    let out = place.join("out");
    let mut seen = BTreeMap::<(&str, &str), usize>::new();
    for step in 0..STEPS {
        for signal in ["INT", "TERM", "KILL"] {
            restore(&out, &old);
            let marker = dir.path().join("paused");
            let _ = std::fs::remove_file(&marker);
            let mut child = quantize_cmd(&out, true)
                .env("CALIBR8_TEST_PAUSE_AT_STEP", step.to_string())
                .env("CALIBR8_TEST_PAUSE_MARKER", &marker)
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let started = Instant::now();
            while !marker.exists() {
                assert!(started.elapsed() < Duration::from_secs(60), "step {step} never reached");
                std::thread::sleep(Duration::from_millis(5));
            }
            if signal == "KILL" {
                child.kill().unwrap();
            } else {
                let pid = child.id().to_string();
                let s = Command::new("kill").args(["-s", signal, &pid]).status().unwrap();
                assert!(s.success());
            }
            let status = child.wait().unwrap();
            let now = snapshot(&out);
            let which = if now == old {
                "old"
            } else if now == new {
                "new"
            } else {
                panic!(
                    "step {step}, SIG{signal}: a mixed set: {:?}",
                    now.keys().collect::<Vec<_>>()
                )
            };
            *seen.entry((signal, which)).or_default() += 1;
            if signal == "KILL" {
                // The next run into the same place removes what the killed one left.
                run_ok(&out, true);
                assert_eq!(snapshot(&out), new, "step {step}");
            } else {
                assert_eq!(status.code(), Some(130), "step {step}, SIG{signal}");
            }
            assert_eq!(names(&place), ["out"], "step {step}, SIG{signal}: left beside the folder");
        }
    }
    eprintln!("{} interruptions: {seen:?}", STEPS * 3);
    // Before the swap the old set stays; after it the new one is in place.
    assert_eq!(seen.get(&("INT", "old")), Some(&(STEPS - 1)));
    assert_eq!(seen.get(&("INT", "new")), Some(&1));
}

#[test]
fn issue_10_a_run_into_a_missing_deep_folder_leaves_no_parents_when_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a/b/c");
    let marker = dir.path().join("paused");
    let mut child = quantize_cmd(&out, false)
        .env("CALIBR8_TEST_PAUSE_AT_STEP", "3")
        .env("CALIBR8_TEST_PAUSE_MARKER", &marker)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !marker.exists() {
        assert!(started.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(dir.path().join("a/b").is_dir(), "the parents exist while writing");
    let s = Command::new("kill").args(["-s", "TERM", &child.id().to_string()]).status().unwrap();
    assert!(s.success());
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert_eq!(names(dir.path()), ["paused"], "the parents a/b were created by the run: removed");
}
