//! Runs the fuzz targets on stable Rust: mutates the seed corpus (bit flips, byte edits,
//! inserts, deletes, splices, interesting integers), runs each input under `catch_unwind`, and
//! saves any input that panics to `artifacts/<target>/`. No coverage feedback (that is what
//! `cargo fuzz` adds), but it needs no nightly toolchain.
//!
//! `cargo run --release --bin stable_driver -- <target|all> [--iterations N] [--seconds S] [--seed X]`

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: &[u64] =
    &[0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fff_ffff, 0xffff_ffff, u64::MAX];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    for _ in 0..rng.below(4) + 1 {
        let len = input.len();
        match rng.below(7) {
            0 if len > 0 => {
                let at = rng.below(len);
                input[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                input[at] = rng.next() as u8;
            }
            2 => {
                let at = rng.below(len + 1);
                let n = rng.below(16) + 1;
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                input.splice(at..at, bytes);
            }
            3 if len > 0 => {
                let at = rng.below(len);
                let end = (at + rng.below(64) + 1).min(len);
                input.drain(at..end);
            }
            4 if len > 0 => {
                let v = INTERESTING[rng.below(INTERESTING.len())].to_le_bytes();
                let width = [1, 2, 4, 8][rng.below(4)];
                let at = rng.below(len);
                for (k, b) in v.iter().take(width).enumerate() {
                    if let Some(slot) = input.get_mut(at + k) {
                        *slot = *b;
                    }
                }
            }
            5 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                let a = rng.below(other.len() + 1);
                let b = (a + rng.below(256)).min(other.len());
                let at = rng.below(len + 1);
                input.splice(at..at, other[a..b].iter().copied());
            }
            _ => {
                // Text inputs: repeat a random slice (deep nesting, long lines).
                if len > 0 {
                    let a = rng.below(len);
                    let b = (a + rng.below(8) + 1).min(len);
                    let chunk = input[a..b].to_vec();
                    for _ in 0..rng.below(2000) {
                        input.extend_from_slice(&chunk);
                    }
                }
            }
        }
    }
    input.truncate(1 << 22);
}

fn seeds(target: &str, root: &Path) -> Vec<Vec<u8>> {
    let mut dirs = vec![root.join("corpus").join(target)];
    if target == "onnx_loader" {
        dirs.push(root.join("../backends/burn/tests/data"));
        dirs.push(root.join("../tests/data"));
    }
    let mut out = vec![];
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        let mut files: Vec<PathBuf> =
            entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
        files.sort();
        for f in files {
            if let Ok(bytes) = std::fs::read(&f) {
                if target != "onnx_loader" || f.extension().is_some_and(|e| e == "onnx") {
                    out.push(bytes);
                }
            }
        }
    }
    if out.is_empty() {
        out.push(vec![]);
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1));
    let which = args.first().map(String::as_str).unwrap_or("all");
    let iterations: u64 = get("--iterations").and_then(|v| v.parse().ok()).unwrap_or(u64::MAX);
    let seconds: u64 = get("--seconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(if iterations == u64::MAX { 60 } else { u64::MAX });
    let seed: u64 = get("--seed").and_then(|v| v.parse().ok()).unwrap_or(1);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Panics are reported by the driver, with the input saved; the default message is noise.
    std::panic::set_hook(Box::new(|_| {}));
    let mut failed = false;
    for (name, target) in calibr8_fuzz::TARGETS {
        if which != "all" && which != *name {
            continue;
        }
        let corpus = seeds(name, root);
        let mut rng = Rng(seed);
        let started = Instant::now();
        let (mut runs, mut crashes) = (0u64, 0u64);
        while runs < iterations && started.elapsed() < Duration::from_secs(seconds) {
            let mut input = corpus[rng.below(corpus.len())].clone();
            mutate(&mut rng, &mut input, &corpus);
            runs += 1;
            if std::panic::catch_unwind(|| target(&input)).is_err() {
                crashes += 1;
                let dir = root.join("artifacts").join(name);
                let _ = std::fs::create_dir_all(&dir);
                let path = dir.join(format!("crash-{seed}-{runs}"));
                let _ = std::fs::write(&path, &input);
                eprintln!("{name}: panic on input saved to {}", path.display());
            }
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{name}: {runs} inputs in {secs:.1} s ({:.0}/s), {crashes} panics",
            runs as f64 / secs
        );
        failed |= crashes > 0;
    }
    std::process::exit(if failed { 1 } else { 0 });
}
