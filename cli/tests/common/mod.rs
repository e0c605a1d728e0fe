//! Helpers shared by the CLI test files: running the binary, editing the bundled model's
//! protobuf, writing `.npy` files, snapshotting folders.
#![allow(dead_code)]

pub use calibr8::core::pb;
use prost::Message;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const MODEL: &str = "examples/digits/digits_cnn.onnx";
pub const CALIB: &str = "examples/digits/calib.npy";

pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

pub fn calibr8(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_calibr8")).args(args).output().expect("runs calibr8")
}

/// `calibr8 quantize` on the digits example into `dir/q` (`--method minmax` unless `extra`
/// names one), plus `extra`.
pub fn quantize_digits(dir: &Path, extra: &[&str]) -> Output {
    let (model, calib) = (repo(MODEL), repo(CALIB));
    let out = dir.join("q");
    let mut args = vec!["quantize", model.to_str().unwrap(), "--calib", calib.to_str().unwrap()];
    if !extra.contains(&"--method") {
        args.extend(["--method", "minmax"]);
    }
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend(extra);
    calibr8(&args)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn digits() -> pb::ModelProto {
    pb::ModelProto::decode(std::fs::read(repo(MODEL)).unwrap().as_slice()).unwrap()
}

pub fn graph(m: &mut pb::ModelProto) -> &mut pb::GraphProto {
    m.graph.as_mut().unwrap()
}

pub fn node<'a>(m: &'a mut pb::ModelProto, name: &str) -> &'a mut pb::NodeProto {
    graph(m).node.iter_mut().find(|n| n.name == name).unwrap()
}

pub fn set_ints(m: &mut pb::ModelProto, node_name: &str, attr: &str, v: &[i64]) {
    let n = node(m, node_name);
    n.attribute.retain(|a| a.name != attr);
    n.attribute.push(pb::AttributeProto {
        name: attr.into(),
        ints: v.to_vec(),
        r#type: 7,
        ..Default::default()
    });
}

pub fn set_int(m: &mut pb::ModelProto, node_name: &str, attr: &str, v: i64) {
    let n = node(m, node_name);
    n.attribute.retain(|a| a.name != attr);
    n.attribute.push(pb::AttributeProto {
        name: attr.into(),
        i: v,
        r#type: 2,
        ..Default::default()
    });
}

pub fn new_node(name: &str, op: &str, inputs: &[&str], outputs: &[&str]) -> pb::NodeProto {
    pb::NodeProto {
        name: name.into(),
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

pub fn i64_init(name: &str, dims: &[i64], v: &[i64]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 7,
        int64_data: v.to_vec(),
        ..Default::default()
    }
}

pub fn f32_init(name: &str, dims: &[i64], v: &[f32]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 1,
        float_data: v.to_vec(),
        ..Default::default()
    }
}

pub fn output(name: &str) -> pb::ValueInfoProto {
    pb::ValueInfoProto { name: name.into(), ..Default::default() }
}

/// Adds a node whose output becomes an extra graph output (so engines cannot prune it).
pub fn add_output_node(m: &mut pb::ModelProto, n: pb::NodeProto, inits: Vec<pb::TensorProto>) {
    let out = n.output[0].clone();
    let g = graph(m);
    g.node.push(n);
    g.initializer.extend(inits);
    g.output.push(output(&out));
}

pub fn input_dims(m: &mut pb::ModelProto, dims: &[i64]) {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    let input = &mut graph(m).input[0];
    if let Some(pb::type_proto::Value::TensorType(t)) =
        input.r#type.as_mut().and_then(|t| t.value.as_mut())
    {
        t.shape = Some(pb::TensorShapeProto {
            dim: dims
                .iter()
                .map(|&d| Dimension { value: Some(Value::DimValue(d)), ..Default::default() })
                .collect(),
        });
    }
}

pub fn save(dir: &Path, name: &str, m: &pb::ModelProto) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, m.encode_to_vec()).unwrap();
    p
}

pub fn npy_f32(shape: &[usize], values: impl Fn(usize) -> f32) -> Vec<u8> {
    let n: usize = shape.iter().product();
    let a = ndarray::ArrayD::from_shape_vec(shape.to_vec(), (0..n).map(values).collect()).unwrap();
    calibr8::core::npy::npy_bytes_f32(&a)
}

/// A version-1 `.npy` with a hand-written header dict over `payload`.
pub fn npy_raw(dict: &str, payload: &[u8]) -> Vec<u8> {
    let header = format!("{dict}\n");
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// Every file under `dir` (relative path → bytes); empty if `dir` does not exist.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.insert(p.strip_prefix(root).unwrap().join(""), vec![]);
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Names in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// The five files `calibr8 quantize` writes.
pub const ARTIFACTS: [&str; 5] = [
    "calibration.cache",
    "model.qdq.onnx",
    "nni3_calibration_config.json",
    "nni_calibration_config.json",
    "ranges.json",
];
