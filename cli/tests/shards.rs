//! `calibr8 calibrate` + `calibr8 merge`: the digits calibration data split into three .npy
//! shards gives, file for file and byte for byte, the artifacts of `quantize` over all of it
//! (two-pass histograms); states that do not belong together, damaged files and
//! order-dependent methods are errors that say why.
//! See: https://github.com/calibr8/calibr8/issues/12

mod common;

use common::*;
use ndarray::{Axis, Slice};
use std::path::{Path, PathBuf};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Three shards of 96, 96 and 64 samples (multiples of the batch, 32) as .npy files.
fn split_calib(dir: &Path) -> Vec<PathBuf> {
    let all = calibr8::core::npy::read_npy_f32(repo(CALIB)).unwrap();
    let mut start = 0;
    [96, 96, 64]
        .iter()
        .enumerate()
        .map(|(k, &n)| {
            let part = all.slice_axis(Axis(0), Slice::from(start..start + n)).to_owned();
            start += n;
            let p = dir.join(format!("calib-{k}.npy"));
            std::fs::write(&p, calibr8::core::npy::npy_bytes_f32(&part)).unwrap();
            p
        })
        .collect()
}

fn ok(args: &[&str]) -> String {
    let o = calibr8(args);
    assert_eq!(o.status.code(), Some(0), "calibr8 {args:?}: {}", stderr(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Exit code 2 and the stderr text.
fn fails(args: &[&str]) -> String {
    let o = calibr8(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "calibr8 {args:?} should fail: {err}");
    assert!(err.starts_with("calibr8 failed"), "{err}");
    err
}

fn calibrate(model: &str, calib: &Path, method: &str, extra: &[&str], state: &Path) -> Vec<String> {
    let mut args = vec!["calibrate", model, "--calib", s(calib), "--method", method];
    args.extend_from_slice(&["--batch", "32", "-j", "2", "-q", "--state", s(state)]);
    args.extend_from_slice(extra);
    args.iter().map(|a| a.to_string()).collect()
}

fn run_ok(args: Vec<String>) -> String {
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The whole procedure the README shows: range pass per shard, histogram pass per shard on
/// the merged ranges, merge.
#[test]
fn issue_12_sharded_run_writes_the_two_pass_artifacts_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = repo(MODEL);
    let model = s(&model);
    let parts = split_calib(d);
    for method in ["entropy", "percentile"] {
        let whole = d.join(format!("whole-{method}"));
        ok(&[
            "quantize",
            model,
            "--calib",
            s(&repo(CALIB)),
            "--method",
            method,
            "--histogram",
            "two_pass",
            "--batch",
            "32",
            "-q",
            "--out",
            s(&whole),
        ]);
        let range = |k: usize| d.join(format!("range-{method}-{k}.c8state"));
        let part = |k: usize| d.join(format!("part-{method}-{k}.c8state"));
        for (k, calib) in parts.iter().enumerate() {
            run_ok(calibrate(model, calib, method, &["--range-only"], &range(k)));
        }
        let ranges: Vec<PathBuf> = (0..3).map(range).collect();
        for (k, calib) in parts.iter().enumerate() {
            let mut extra = vec!["--range"];
            extra.extend(ranges.iter().map(|p| s(p)));
            run_ok(calibrate(model, calib, method, &extra, &part(k)));
        }
        for (order, out) in [([0, 1, 2], "merged-a"), ([2, 0, 1], "merged-b")] {
            let out = d.join(format!("{out}-{method}"));
            let states: Vec<PathBuf> = order.iter().map(|&k| part(k)).collect();
            let mut args = vec!["merge"];
            args.extend(states.iter().map(|p| s(p)));
            args.extend(["-q", "--out", s(&out)]);
            let text = ok(&args);
            assert!(text.contains("on 256 samples"), "{text}");
            assert_eq!(names(&out), ARTIFACTS.to_vec());
            assert!(snapshot(&out) == snapshot(&whole), "{method}: {out:?} differs from quantize");
        }
        // The merged range state works as --range too, and gives the same shard state.
        let merged_range = d.join(format!("range-{method}.c8state"));
        let mut args = vec!["merge"];
        args.extend(ranges.iter().map(|p| s(p)));
        args.extend(["-q", "--out", s(&merged_range)]);
        assert!(ok(&args).contains("into ranges state"));
        let again = d.join(format!("again-{method}.c8state"));
        run_ok(calibrate(model, &parts[1], method, &["--range", s(&merged_range)], &again));
        assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(part(1)).unwrap());
    }
}

/// minmax needs no grid: one pass per shard, then merge; the artifacts are `quantize`'s.
#[test]
fn issue_12_minmax_shards_need_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = repo(MODEL);
    let model = s(&model);
    let parts = split_calib(d);
    let whole = d.join("whole");
    ok(&[
        "quantize",
        model,
        "--calib",
        s(&repo(CALIB)),
        "--method",
        "minmax",
        "--batch",
        "32",
        "-q",
        "--out",
        s(&whole),
    ]);
    let mut states = vec![];
    for (k, calib) in parts.iter().enumerate() {
        let state = d.join(format!("part-{k}.c8state"));
        let mut args = calibrate(model, calib, "minmax", &[], &state);
        args.extend(["--format".into(), "json".into()]);
        let json: serde_json::Value = serde_json::from_str(&run_ok(args)).unwrap();
        assert_eq!(json["kind"], "ranges");
        assert_eq!(json["samples"], [96, 96, 64][k]);
        states.push(state);
    }
    let out = d.join("merged");
    let mut args = vec!["merge"];
    args.extend(states.iter().rev().map(|p| s(p)));
    args.extend(["-q", "--out", s(&out), "--model", model]);
    ok(&args);
    assert!(snapshot(&out) == snapshot(&whole), "minmax shards differ from quantize");
}

#[test]
fn issue_12_what_cannot_be_sharded_or_merged_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = repo(MODEL);
    let model = s(&model);
    let parts = split_calib(d);
    let state = |n: &str| d.join(n);

    let e = fails(&run_args(calibrate(model, &parts[0], "ema", &[], &state("x.c8state"))));
    assert!(e.contains("batch order") && e.contains("minmax"), "{e}");
    let e =
        fails(&["calibrate", model, "--calib", s(&parts[0]), "--state", s(&state("x.c8state"))]);
    assert!(e.contains("auto") && e.contains("--method minmax"), "{e}");
    let e = fails(&run_args(calibrate(model, &parts[0], "mse", &[], &state("x.c8state"))));
    assert!(e.contains("--range-only") && e.contains("--range"), "{e}");
    assert!(!state("x.c8state").exists());

    // Range states of entropy and of minmax: different configurations, both files named.
    let (r0, r1) = (state("range-0.c8state"), state("range-1.c8state"));
    run_ok(calibrate(model, &parts[0], "entropy", &["--range-only"], &r0));
    run_ok(calibrate(model, &parts[1], "minmax", &[], &r1));
    let out = state("out");
    let e = fails(&["merge", s(&r0), s(&r1), "--out", s(&out)]);
    assert!(e.contains("configuration") && e.contains("`method`"), "{e}");
    assert!(e.contains(s(&r0)) && e.contains(s(&r1)), "{e}");
    // A grid of another configuration is refused before the model runs.
    let z = state("z.c8state");
    let e = fails(&run_args(calibrate(model, &parts[1], "mse", &["--range", s(&r0)], &z)));
    assert!(e.contains("configuration") && e.contains("\"entropy\" vs \"mse\""), "{e}");
    assert!(!z.exists());
    // Range states alone cannot finish a histogram method.
    let e = fails(&["merge", s(&r0), "--out", s(&out)]);
    assert!(e.contains("ranges only") && e.contains("--range"), "{e}");
    assert!(!out.exists());

    // Truncated and foreign files name the file.
    let bytes = std::fs::read(&r0).unwrap();
    let cut = state("cut.c8state");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = fails(&["merge", s(&cut), "--out", s(&out)]);
    assert!(e.contains(s(&cut)) && e.contains("corrupt"), "{e}");
    let e = fails(&run_args(calibrate(
        model,
        &parts[0],
        "entropy",
        &["--range", s(&repo(CALIB))],
        &state("y.c8state"),
    )));
    assert!(e.contains("not a calibr8 state file") && e.contains("calib.npy"), "{e}");

    // The same shard twice (a merged state next to its parts) would count twice.
    let (p0, p1) = (state("p0.c8state"), state("p1.c8state"));
    run_ok(calibrate(model, &parts[0], "minmax", &[], &p0));
    run_ok(calibrate(model, &parts[1], "minmax", &[], &p1));
    let both = state("both.c8state");
    ok(&["merge", s(&p0), s(&p1), "-q", "--out", s(&both)]);
    let e = fails(&["merge", s(&both), s(&p0), s(&p1), "--out", s(&out)]);
    assert!(e.contains("merge each shard once") && e.contains("calib-0.npy"), "{e}");
    // Another model: the states' model hash does not match.
    let mut m = digits();
    node(&mut m, "conv1").name = "conv1_renamed".into();
    let other = save(d, "other.onnx", &m);
    let e = fails(&["merge", s(&r1), "--model", s(&other), "--out", s(&out)]);
    assert!(e.contains("different model") && e.contains("other.onnx"), "{e}");
}

fn run_args(args: Vec<String>) -> Vec<&'static str> {
    args.into_iter().map(|a| &*Box::leak(a.into_boxed_str())).collect()
}
