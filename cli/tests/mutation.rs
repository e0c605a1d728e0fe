//! Seeded mutation testing of the bundled models: byte-level and protobuf-aware mutations, run
//! in process through the library (load → validate → calibrate on tract → write artifacts) and
//! a smaller number through the `calibr8` binary. Every case must end in Ok or an error, never a
//! panic, and a failed run must leave no output; a successful one the complete set.
//! See: https://github.com/calibr8/calibr8/issues/10

mod common;

use calibr8::{Error, InMemory, OnnxModel, QuantConfig};
use common::*;
use prost::Message;
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;

/// SplitMix64: tiny, seedable, good enough to pick mutations.
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
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Values that break attributes and dims.
const NASTY: &[i64] = &[0, -1, -2, -10, 1, 2, 3, 7, 1 << 20, 1 << 40, i64::MAX, i64::MIN, 100_000];
const OPS: &[&str] = &[
    "Relu",
    "Conv",
    "Gemm",
    "MatMul",
    "Flatten",
    "Add",
    "Softmax",
    "Concat",
    "Reshape",
    "Transpose",
    "ConstantOfShape",
    "Expand",
    "Tile",
    "Range",
    "Resize",
    "Gather",
    "Unsqueeze",
    "Squeeze",
    "Slice",
    "Pad",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "BatchNormalization",
    "Shape",
    "Cast",
    "Split",
    "Where",
    "Identity",
    "Clip",
    "QuantizeLinear",
    "DequantizeLinear",
    "Sum",
    "Relux",
];
const ATTRS: &[&str] = &[
    "axis",
    "axes",
    "strides",
    "pads",
    "dilations",
    "group",
    "kernel_shape",
    "perm",
    "transA",
    "transB",
    "keepdims",
    "to",
    "split",
    "allowzero",
    "mode",
    "value",
];

fn random_shape(rng: &mut Rng) -> Vec<i64> {
    let rank = rng.below(4) + 1;
    (0..rank)
        .map(|_| match rng.below(4) {
            0 => *rng.pick(NASTY),
            1 => rng.below(5) as i64,
            _ => rng.pick(&[1i64, 2, 8, 64, 1000, 50_000, 1 << 20]).to_owned(),
        })
        .collect()
}

/// Picks a tensor name of the graph (or a ghost).
fn tensor(rng: &mut Rng, g: &pb::GraphProto) -> String {
    let mut names: Vec<&str> =
        g.node.iter().flat_map(|n| n.output.iter().map(String::as_str)).collect();
    names.extend(g.initializer.iter().map(|t| t.name.as_str()));
    names.extend(g.input.iter().map(|i| i.name.as_str()));
    if names.is_empty() || rng.chance(5) {
        return "ghost".into();
    }
    rng.pick(&names).to_string()
}

fn mutate_proto(rng: &mut Rng, m: &mut pb::ModelProto) {
    let Some(g) = m.graph.as_mut() else { return };
    let nodes = g.node.len();
    match rng.below(24) {
        // Attributes: change, add, remove.
        0..=4 if nodes > 0 => {
            let n = &mut g.node[rng.below(nodes)];
            if n.attribute.is_empty() || rng.chance(40) {
                let name = rng.pick(ATTRS).to_string();
                let value = *rng.pick(NASTY);
                let ints: Vec<i64> = (0..rng.below(7)).map(|_| *rng.pick(NASTY)).collect();
                n.attribute.push(pb::AttributeProto {
                    name,
                    i: value,
                    ints,
                    r#type: rng.pick(&[2, 7]).to_owned(),
                    ..Default::default()
                });
            } else {
                let k = rng.below(n.attribute.len());
                let a = &mut n.attribute[k];
                match rng.below(5) {
                    0 => a.i = *rng.pick(NASTY),
                    1 if !a.ints.is_empty() => {
                        let j = rng.below(a.ints.len());
                        a.ints[j] = *rng.pick(NASTY);
                    }
                    2 => {
                        let len = a.ints.len();
                        a.ints.truncate(rng.below(len + 1));
                    }
                    3 => a.ints.push(*rng.pick(NASTY)),
                    _ => {
                        n.attribute.remove(k);
                    }
                }
            }
        }
        5 if nodes > 0 => {
            let k = rng.below(nodes);
            g.node[k].op_type = rng.pick(OPS).to_string();
        }
        6 if nodes > 0 => {
            let k = rng.below(nodes);
            g.node[k].domain = rng
                .pick(&["com.example.custom", "com.microsoft", "ai.onnx", "ai.onnx.ml"])
                .to_string();
        }
        7 if nodes > 1 => {
            let (a, b) = (rng.below(nodes), rng.below(nodes));
            g.node[a].name = g.node[b].name.clone();
        }
        8 if nodes > 0 => {
            let k = rng.below(nodes);
            let name = tensor(rng, g);
            let n = &mut g.node[k];
            if n.input.is_empty() {
                n.input.push(name);
            } else {
                let j = rng.below(n.input.len());
                n.input[j] = name;
            }
        }
        9 if nodes > 0 => {
            let k = rng.below(nodes);
            let name = tensor(rng, g);
            let n = &mut g.node[k];
            if !n.output.is_empty() {
                let j = rng.below(n.output.len());
                n.output[j] = name;
            }
        }
        10 if nodes > 0 => {
            let k = rng.below(nodes);
            g.node.remove(k);
        }
        11 if nodes > 0 => {
            let k = rng.below(nodes);
            let n = g.node[k].clone();
            let at = rng.below(nodes);
            g.node.insert(at, n);
        }
        12 if nodes > 0 => {
            let k = rng.below(nodes);
            let n = &mut g.node[k];
            let len = n.input.len();
            n.input.truncate(rng.below(len + 1));
        }
        13 => {
            let name = tensor(rng, g);
            g.output.push(output(&name));
        }
        14 => {
            let v = rng.pick(&[0i64, 1, 7, 9, 10, 11, 13, 17, 21, 22, 99, -1]).to_owned();
            match m.opset_import.first_mut() {
                Some(o) if rng.chance(90) => o.version = v,
                _ => m.opset_import.clear(),
            }
        }
        15 | 16 => {
            use pb::tensor_shape_proto::{dimension::Value, Dimension};
            if let Some(i) = g.input.first_mut() {
                if let Some(pb::type_proto::Value::TensorType(t)) =
                    i.r#type.as_mut().and_then(|t| t.value.as_mut())
                {
                    match rng.below(4) {
                        0 => t.shape = None,
                        1 => t.elem_type = rng.pick(&[0, 2, 7, 9, 11, 99]).to_owned(),
                        _ => {
                            if let Some(s) = t.shape.as_mut() {
                                let dims = s.dim.len();
                                let v = *rng.pick(NASTY);
                                if dims > 0 && rng.chance(80) {
                                    s.dim[rng.below(dims)] = Dimension {
                                        value: Some(Value::DimValue(v)),
                                        ..Default::default()
                                    };
                                } else {
                                    s.dim.push(Dimension {
                                        value: Some(Value::DimValue(v)),
                                        ..Default::default()
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
        17 | 18 if !g.initializer.is_empty() => {
            let k = rng.below(g.initializer.len());
            let t = &mut g.initializer[k];
            match rng.below(6) {
                0 => {
                    let len = t.raw_data.len();
                    t.raw_data.truncate(rng.below(len + 1));
                }
                1 => t.dims = random_shape(rng),
                2 => t.data_type = rng.pick(&[0, 2, 6, 7, 8, 10, 11, 16, 99]).to_owned(),
                3 => t.dims.clear(),
                4 => t.data_location = 1,
                _ => {
                    if !t.dims.is_empty() {
                        let j = rng.below(t.dims.len());
                        t.dims[j] = *rng.pick(NASTY);
                    }
                }
            }
        }
        // Constant-folding bombs and shape computations.
        19 | 20 => {
            let op = rng.pick(&["ConstantOfShape", "Expand", "Tile", "Range", "Resize", "Reshape"]);
            let id = rng.next() % 1000;
            let shape = random_shape(rng);
            let s_name = format!("m{id}_s");
            let out = format!("m{id}_out");
            let (inputs, inits): (Vec<String>, Vec<pb::TensorProto>) = match *op {
                "ConstantOfShape" => {
                    (vec![s_name.clone()], vec![i64_init(&s_name, &[shape.len() as i64], &shape)])
                }
                "Range" => {
                    let lim = *rng.pick(&[10i64, 1 << 20, 1 << 33, i64::MAX]);
                    let delta = *rng.pick(&[1i64, 0, -1, 3]);
                    (
                        vec![format!("m{id}_a"), format!("m{id}_b"), format!("m{id}_d")],
                        vec![
                            i64_init(&format!("m{id}_a"), &[], &[0]),
                            i64_init(&format!("m{id}_b"), &[], &[lim]),
                            i64_init(&format!("m{id}_d"), &[], &[delta]),
                        ],
                    )
                }
                "Resize" => {
                    let src = tensor(rng, g);
                    let sc: Vec<f32> = (0..4)
                        .map(|_| *rng.pick(&[1.0f32, 2.0, 0.0, -1.0, 1000.0, f32::NAN]))
                        .collect();
                    (vec![src, String::new(), s_name.clone()], vec![f32_init(&s_name, &[4], &sc)])
                }
                _ => {
                    let src = tensor(rng, g);
                    (
                        vec![src, s_name.clone()],
                        vec![i64_init(&s_name, &[shape.len() as i64], &shape)],
                    )
                }
            };
            let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
            let n = new_node(&format!("m{id}"), op, &refs, &[&out]);
            g.initializer.extend(inits);
            g.node.push(n);
            g.output.push(output(&out));
        }
        21 => {
            // A cycle: a node reads the output of a later one.
            if nodes > 1 {
                let (a, b) = (rng.below(nodes), rng.below(nodes));
                let (early, late) = (a.min(b), a.max(b));
                if let Some(o) = g.node[late].output.first().cloned() {
                    if !g.node[early].input.is_empty() {
                        g.node[early].input[0] = o;
                    }
                }
            }
        }
        22 => g.node.clear(),
        _ => {
            if nodes > 0 {
                let k = rng.below(nodes);
                g.node[k].name.clear();
            }
        }
    }
}

fn mutate_bytes(rng: &mut Rng, bytes: &mut Vec<u8>) {
    let len = bytes.len().max(1);
    match rng.below(6) {
        0 => {
            for _ in 0..rng.below(8) + 1 {
                let at = rng.below(len).min(bytes.len().saturating_sub(1));
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= 1 << rng.below(8);
                }
            }
        }
        1 => bytes.truncate(rng.below(len)),
        2 => {
            let at = rng.below(len);
            let n = rng.below(16) + 1;
            for k in 0..n {
                if let Some(b) = bytes.get_mut(at + k) {
                    *b = rng.next() as u8;
                }
            }
        }
        3 => {
            let at = rng.below(len).min(bytes.len());
            let junk: Vec<u8> = (0..rng.below(32) + 1).map(|_| rng.next() as u8).collect();
            bytes.splice(at..at, junk);
        }
        4 => {
            // A varint length prefix turned huge.
            let at = rng.below(len).min(bytes.len().saturating_sub(1));
            if let Some(b) = bytes.get_mut(at) {
                *b = 0xff;
            }
        }
        _ => {
            let a = rng.below(len).min(bytes.len());
            let b = (a + rng.below(256)).min(bytes.len());
            let chunk = bytes[a..b].to_vec();
            let at = rng.below(len).min(bytes.len());
            bytes.splice(at..at, chunk);
        }
    }
}

/// One mutated model: 1–3 protobuf-aware mutations, or (a third of the time) byte mutations.
fn mutant(rng: &mut Rng, seeds: &[(String, pb::ModelProto, Vec<u8>)]) -> Vec<u8> {
    let (_, proto, bytes) = rng.pick(seeds);
    if rng.chance(33) {
        let mut b = bytes.clone();
        for _ in 0..rng.below(3) + 1 {
            mutate_bytes(rng, &mut b);
        }
        b
    } else {
        let mut m = proto.clone();
        for _ in 0..rng.below(3) + 1 {
            mutate_proto(rng, &mut m);
        }
        m.encode_to_vec()
    }
}

fn seeds() -> Vec<(String, pb::ModelProto, Vec<u8>)> {
    [
        "examples/digits/digits_cnn.onnx",
        "tests/data/resnet_tiny.onnx",
        "backends/burn/tests/data/ops_zoo.onnx",
    ]
    .iter()
    .map(|p| {
        let bytes = std::fs::read(repo(p)).unwrap();
        (p.to_string(), pb::ModelProto::decode(bytes.as_slice()).unwrap(), bytes)
    })
    .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    RefusedAtLoad,
    FailedLater,
    ContainedPanic,
    Quantized,
}

/// Load, calibrate on two samples with tract, and (for one case in eight) write the artifacts.
fn run_case(bytes: &[u8], out: &std::path::Path, write: bool) -> Outcome {
    let Ok(model) = OnnxModel::from_bytes(bytes, "mutant.onnx") else {
        return Outcome::RefusedAtLoad;
    };
    let Some(input) = model.inputs().into_iter().next() else { return Outcome::FailedLater };
    let mut shape: Vec<usize> = input.dims.iter().map(|d| d.unwrap_or(2)).collect();
    if shape.is_empty() || shape.iter().product::<usize>() > 1 << 20 {
        shape = vec![2, 1, 8, 8];
    }
    let n: usize = shape.iter().product();
    let samples = ndarray::ArrayD::from_shape_vec(
        shape.clone(),
        (0..n).map(|i| (i % 17) as f32 / 8.0 - 1.0).collect(),
    )
    .unwrap();
    let Ok(data) = InMemory::new(samples, shape[0].max(1)) else { return Outcome::FailedLater };
    let config: QuantConfig = serde_json::from_str(r#"{"method": "minmax"}"#).unwrap();
    let backend = calibr8::tract::TractBackend;
    let q = match calibr8::quantize_with(&backend, &model, &data, &config) {
        Ok(q) => q,
        Err(e @ Error::BackendPanic { .. }) => {
            eprintln!("contained engine panic: {e}");
            if let Ok(dir) = std::env::var("CALIBR8_KEEP_MUTANTS") {
                let n = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                let _ = std::fs::write(format!("{dir}/contained_{n}.onnx"), bytes);
            }
            return Outcome::ContainedPanic;
        }
        Err(_) => return Outcome::FailedLater,
    };
    if write {
        let options = calibr8::export::ArtifactOptions::default();
        match calibr8::export::write_artifacts(&q, out, &options) {
            Ok(_) => assert_eq!(names(out), ARTIFACTS, "incomplete set"),
            Err(_) => assert!(!out.exists(), "a failed write left {}", out.display()),
        }
        let _ = std::fs::remove_dir_all(out);
    }
    Outcome::Quantized
}

/// See: https://github.com/calibr8/calibr8/issues/10
#[test]
fn issue_10_mutated_models_never_panic_in_process() {
    const CASES: usize = 2400;
    // Mutants may compute large tensors; keep the budget small so the test stays fast.
    calibr8::core::validate::set_default_max_memory(64 << 20);
    let seeds = seeds();
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let tally = std::sync::Mutex::new(BTreeMap::<Outcome, usize>::new());
    let panics = std::sync::Mutex::new(vec![]);
    std::thread::scope(|scope| {
        for t in 0..2 {
            let (seeds, next, tally, panics, dir) = (&seeds, &next, &tally, &panics, dir.path());
            scope.spawn(move || loop {
                let case = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if case >= CASES {
                    break;
                }
                let mut rng = Rng(0xC0FFEE ^ (case as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
                let bytes = mutant(&mut rng, seeds);
                let out = dir.join(format!("out_{t}"));
                let r = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    run_case(&bytes, &out, case % 8 == 0)
                }));
                match r {
                    Ok(o) => *tally.lock().unwrap().entry(o).or_default() += 1,
                    Err(_) => {
                        let path = dir.join(format!("panic_{case}.onnx"));
                        std::fs::write(&path, &bytes).unwrap();
                        panics.lock().unwrap().push(format!("case {case} ({})", path.display()));
                    }
                }
            });
        }
    });
    let tally = tally.into_inner().unwrap();
    let panics = panics.into_inner().unwrap();
    eprintln!(
        "{CASES} mutants in {:?}: {tally:?}, uncontained panics: {}",
        started.elapsed(),
        panics.len()
    );
    assert!(panics.is_empty(), "panics: {panics:?}");
    let contained = tally.get(&Outcome::ContainedPanic).copied().unwrap_or(0);
    // Validation answers first: an engine panic (contained or not) means a missing check.
    assert_eq!(contained, 0, "{contained} engine panics were contained; validation missed them");
    assert!(tally.get(&Outcome::RefusedAtLoad).copied().unwrap_or(0) > CASES / 4);
    assert!(tally.get(&Outcome::Quantized).copied().unwrap_or(0) > CASES / 10);
}

/// See: https://github.com/calibr8/calibr8/issues/10
#[test]
fn issue_10_mutated_models_through_the_binary_exit_0_or_2() {
    const CASES: usize = 48;
    let seeds = seeds();
    let dir = tempfile::tempdir().unwrap();
    let calib = repo(CALIB);
    let mut codes = BTreeMap::<i32, usize>::new();
    for case in 0..CASES {
        let mut rng = Rng(0xBADC0DE ^ (case as u64).wrapping_mul(0x9E37_79B9));
        // The digits model only: the calibration data fits it.
        let bytes = mutant(&mut rng, &seeds[..1]);
        let model = dir.path().join(format!("m{case}.onnx"));
        std::fs::write(&model, &bytes).unwrap();
        let run = dir.path().join(format!("run{case}"));
        std::fs::create_dir(&run).unwrap();
        let out = run.join("a/b/out");
        let o = calibr8(&[
            "quantize",
            model.to_str().unwrap(),
            "--calib",
            calib.to_str().unwrap(),
            "--method",
            "minmax",
            "--max-memory",
            "64MiB",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = stderr(&o);
        let code = o.status.code().unwrap_or(-1);
        *codes.entry(code).or_default() += 1;
        assert!(code == 0 || code == 2, "case {case}: exit {code}: {err}");
        assert!(!err.contains("panicked") && !err.contains("crashed"), "case {case}: {err}");
        if code == 0 {
            assert_eq!(names(&out), ARTIFACTS, "case {case}");
        } else {
            // Warnings about the model (renamed nodes) may come first; nothing else.
            let mut lines = err.lines();
            assert!(
                lines.by_ref().find(|l| !l.contains("WARN")).is_some_and(|l| l == "calibr8 failed"),
                "case {case}: {err}"
            );
            assert!(names(&run).is_empty(), "case {case}: left {:?}", names(&run));
        }
    }
    eprintln!("{CASES} mutants through the binary: exit codes {codes:?}");
}
