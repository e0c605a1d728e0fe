//! The bad-input catalogue: every case must fail with exit code 2, `calibr8 failed`, a message
//! naming what is wrong (asserted fragments), no panic, and an untouched output folder: a fresh
//! `--out` is never created, an existing one keeps its exact contents, and nothing is left
//! beside it.
//! See: https://github.com/calibr8/calibr8/issues/2 and https://github.com/calibr8/calibr8/issues/10

mod common;

use common::*;
use prost::Message;
use std::path::{Path, PathBuf};

struct Case {
    name: String,
    /// Arguments; `{out}` is replaced by the case's output folder.
    args: Vec<String>,
    expect: Vec<String>,
    /// The command writes to `--out` (inspect does not).
    writes: bool,
}

struct Catalogue {
    dir: PathBuf,
    cases: Vec<Case>,
}

impl Catalogue {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_string()
    }

    fn model(&self, name: &str, edit: impl FnOnce(&mut pb::ModelProto)) -> String {
        let mut m = digits();
        edit(&mut m);
        save(&self.dir, name, &m).to_str().unwrap().to_string()
    }

    fn add(&mut self, name: &str, args: Vec<String>, expect: &[&str]) {
        let writes = args[0] != "inspect";
        self.cases.push(Case {
            name: name.into(),
            args,
            expect: expect.iter().map(|s| s.to_string()).collect(),
            writes,
        });
    }

    /// `quantize MODEL --calib CALIB --quiet --out {out} EXTRA…`.
    fn quantize(&mut self, name: &str, model: &str, calib: &str, extra: &[&str], expect: &[&str]) {
        let mut args: Vec<String> = ["quantize", model, "--calib", calib, "--quiet"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if !extra.contains(&"--out") {
            args.extend(["--out".to_string(), "{out}".to_string()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        self.add(name, args, expect);
    }

    /// A model edit run through `quantize` and, for every fifth, `inspect` too.
    fn bad_model(&mut self, name: &str, edit: impl FnOnce(&mut pb::ModelProto), expect: &[&str]) {
        let model = self.model(&format!("{name}.onnx"), edit);
        let calib = repo(CALIB).to_str().unwrap().to_string();
        self.quantize(name, &model, &calib, &[], expect);
        if self.cases.len() % 5 == 0 {
            self.add(&format!("{name} (inspect)"), vec!["inspect".into(), model], expect);
        }
    }
}

fn s(v: &str) -> String {
    v.to_string()
}

fn build(dir: &Path) -> Catalogue {
    let mut c = Catalogue { dir: dir.to_path_buf(), cases: vec![] };
    let model = repo(MODEL).to_str().unwrap().to_string();
    let calib = repo(CALIB).to_str().unwrap().to_string();
    let (m, k) = (model.as_str(), calib.as_str());
    let bytes = std::fs::read(repo(MODEL)).unwrap();

    // ---- The model file.
    let p = c.file("truncated.onnx", &bytes[..bytes.len() / 2]);
    c.quantize("truncated onnx", &p, k, &[], &["truncated.onnx", "not a valid ONNX model"]);
    let p = c.file("garbage.onnx", b"this is not protobuf at all \xff\xff\xff\xff");
    c.quantize("garbage onnx", &p, k, &[], &["garbage.onnx", "not a valid ONNX model"]);
    let p = c.file("empty.onnx", b"");
    c.quantize("empty onnx", &p, k, &[], &["empty.onnx", "no graph"]);
    let missing = c.path("missing.onnx").to_str().unwrap().to_string();
    c.quantize("missing model", &missing, k, &[], &["missing.onnx", "No such file"]);
    let folder = c.path("folder.onnx");
    std::fs::create_dir(&folder).unwrap();
    c.quantize("model is a folder", folder.to_str().unwrap(), k, &[], &["folder.onnx"]);

    // ---- Opsets and domains.
    c.bad_model("opset 7", |m| m.opset_import[0].version = 7, &["opset 7", "11..=21"]);
    c.bad_model("opset 10", |m| m.opset_import[0].version = 10, &["opset 10", "11..=21"]);
    c.bad_model("opset 22", |m| m.opset_import[0].version = 22, &["opset 22", "11..=21"]);
    c.bad_model("no opset", |m| m.opset_import.clear(), &["declares no opset"]);
    c.bad_model(
        "custom domain",
        |m| node(m, "relu1").domain = "com.example.custom".into(),
        &["node 'relu1' (Relu)", "com.example.custom", "ai.onnx"],
    );
    c.bad_model(
        "microsoft domain",
        |m| node(m, "conv1").domain = "com.microsoft".into(),
        &["node 'conv1' (Conv)", "com.microsoft"],
    );
    c.bad_model(
        "unknown op",
        |m| node(m, "relu2").op_type = "Relux".into(),
        &["'Relux' is not an ONNX operator"],
    );

    // ---- Names and wiring.
    // Repeated node names are renamed on load, not refused: cli/tests/cli.rs.
    c.bad_model(
        "dangling input",
        |m| node(m, "relu2").input[0] = "nowhere".into(),
        &["node 'relu2' (Relu), input 0", "'nowhere'"],
    );
    c.bad_model(
        "output nobody produces",
        |m| graph(m).output.push(output("ghost")),
        &["graph output 'ghost'", "not produced"],
    );
    c.bad_model(
        "output listed twice",
        |m| {
            let o = graph(m).output[0].clone();
            graph(m).output.push(o)
        },
        &["graph output 'logits'", "listed twice"],
    );
    c.bad_model(
        "tensor defined twice",
        |m| node(m, "relu2").output[0] = "relu1_out".into(),
        &["tensor 'relu1_out'", "defined twice"],
    );
    c.bad_model(
        "node output shadows an initializer",
        |m| node(m, "relu1").output[0] = "conv2.weight".into(),
        &["tensor 'conv2.weight'", "initializer and output of node 'relu1'"],
    );
    c.bad_model(
        "duplicate initializers",
        |m| {
            let t = graph(m).initializer[0].clone();
            graph(m).initializer.push(t)
        },
        &["tensor 'conv1.weight'", "two initializers"],
    );
    c.bad_model(
        "duplicate graph inputs",
        |m| {
            let i = graph(m).input[0].clone();
            graph(m).input.push(i)
        },
        &["tensor 'input'", "two graph inputs"],
    );
    c.bad_model("cycle", |m| node(m, "conv1").input[0] = "relu2_out".into(), &["cycle", "acyclic"]);
    c.bad_model("no nodes", |m| graph(m).node.clear(), &["no nodes"]);
    c.bad_model(
        "node without outputs",
        |m| node(m, "relu3").output.clear(),
        &["node 'relu3' (Relu)", "no outputs"],
    );
    c.bad_model(
        "Gemm missing its weight",
        |m| node(m, "fc2").input.truncate(1),
        &["node 'fc2' (Gemm)", "needs 2 inputs"],
    );

    // ---- Attributes.
    c.bad_model(
        "Flatten axis -10",
        |m| set_int(m, "flatten", "axis", -10),
        &["node 'flatten' (Flatten), attribute 'axis'", "-10", "[-4, 4]"],
    );
    c.bad_model(
        "Flatten axis 5",
        |m| set_int(m, "flatten", "axis", 5),
        &["attribute 'axis'", "5 is out of range"],
    );
    c.bad_model(
        "Conv strides 0",
        |m| set_ints(m, "conv1", "strides", &[0, 0]),
        &["node 'conv1' (Conv), attribute 'strides'", "≥ 1"],
    );
    c.bad_model(
        "Conv strides of the wrong length",
        |m| set_ints(m, "conv2", "strides", &[2]),
        &["node 'conv2' (Conv), attribute 'strides'", "one per spatial dim"],
    );
    c.bad_model(
        "Conv pads of the wrong length",
        |m| set_ints(m, "conv1", "pads", &[1, 1, 1]),
        &["attribute 'pads'", "2 × 2 spatial dims = 4"],
    );
    c.bad_model(
        "Conv pads 6 long",
        |m| set_ints(m, "conv2", "pads", &[1, 1, 1, 1, 1, 1]),
        &["node 'conv2' (Conv), attribute 'pads'", "has 6 values"],
    );
    c.bad_model(
        "Conv negative pads",
        |m| set_ints(m, "conv1", "pads", &[1, -1, 1, 1]),
        &["'pads'", "≥ 0"],
    );
    c.bad_model(
        "Conv dilations 0",
        |m| set_ints(m, "conv1", "dilations", &[0, 1]),
        &["'dilations'", "≥ 1"],
    );
    c.bad_model("Conv group 0", |m| set_int(m, "conv2", "group", 0), &["attribute 'group'", "≥ 1"]);
    c.bad_model(
        "Conv group 3",
        |m| set_int(m, "conv2", "group", 3),
        &["attribute 'group'", "do not fit"],
    );
    c.bad_model(
        "Conv kernel_shape disagrees",
        |m| set_ints(m, "conv1", "kernel_shape", &[5, 5]),
        &["attribute 'kernel_shape'", "disagrees with the weight"],
    );
    c.bad_model(
        "Conv kernel_shape 0",
        |m| set_ints(m, "conv1", "kernel_shape", &[0, 3]),
        &["attribute 'kernel_shape'", "≥ 1"],
    );
    c.bad_model(
        "Conv auto_pad bogus",
        |m| {
            node(m, "conv1").attribute.push(pb::AttributeProto {
                name: "auto_pad".into(),
                s: b"SOMETIMES".to_vec(),
                r#type: 3,
                ..Default::default()
            })
        },
        &["attribute 'auto_pad'", "SOMETIMES"],
    );
    c.bad_model(
        "rank-0 Conv weight",
        |m| {
            let w = graph(m).initializer.iter_mut().find(|t| t.name == "conv1.weight").unwrap();
            w.dims.clear();
            w.raw_data.truncate(4);
        },
        &["node 'conv1' (Conv)", "weight 'conv1.weight' has rank 0", "out_channels"],
    );
    c.bad_model(
        "Gemm transB 2",
        |m| set_int(m, "fc1", "transB", 2),
        &["attribute 'transB'", "0 or 1"],
    );
    c.bad_model(
        "Gemm inner dims differ",
        |m| set_int(m, "fc1", "transB", 0),
        &["node 'fc1' (Gemm)", "inner dims must match"],
    );
    c.bad_model(
        "Softmax axis out of range",
        |m| {
            let mut n = new_node("soft", "Softmax", &["logits"], &["probs"]);
            n.attribute.push(pb::AttributeProto {
                name: "axis".into(),
                i: 3,
                r#type: 2,
                ..Default::default()
            });
            add_output_node(m, n, vec![]);
        },
        &["node 'soft' (Softmax), attribute 'axis'", "[-2, 1]"],
    );
    c.bad_model(
        "Transpose perm invalid",
        |m| {
            let mut n = new_node("tr", "Transpose", &["relu1_out"], &["t_out"]);
            n.attribute.push(pb::AttributeProto {
                name: "perm".into(),
                ints: vec![0, 1, 1, 3],
                r#type: 7,
                ..Default::default()
            });
            add_output_node(m, n, vec![]);
        },
        &["node 'tr' (Transpose), attribute 'perm'", "not a permutation"],
    );

    // ---- Initializers.
    c.bad_model(
        "weight data truncated",
        |m| graph(m).initializer[2].raw_data.truncate(100),
        &["initializer 'conv2.weight'", "holds 100 bytes", "need 18432"],
    );
    c.bad_model(
        "negative initializer dim",
        |m| graph(m).initializer[1].dims = vec![-16],
        &["initializer 'conv1.bias'", "negative dim"],
    );
    c.bad_model(
        "external data",
        |m| graph(m).initializer[0].data_location = 1,
        &["initializer 'conv1.weight'", "external data"],
    );
    c.bad_model(
        "no element type",
        |m| graph(m).initializer[1].data_type = 0,
        &["initializer 'conv1.bias'", "no element type"],
    );

    // ---- Declared input dims.
    c.bad_model("input dim 0", |m| input_dims(m, &[1, 0, 8, 8]), &["input 'input'", "dim 1 is 0"]);
    c.bad_model(
        "input dim -2",
        |m| input_dims(m, &[-2, 1, 8, 8]),
        &["input 'input'", "dim 0 is -2"],
    );
    c.bad_model(
        "huge input dims",
        |m| input_dims(m, &[8_000_000_000_000, 1, 8, 8]),
        &["input 'input'", "--max-memory"],
    );
    c.bad_model(
        "input without shape",
        |m| {
            if let Some(pb::type_proto::Value::TensorType(t)) =
                graph(m).input[0].r#type.as_mut().and_then(|t| t.value.as_mut())
            {
                t.shape = None;
            }
        },
        &["input 'input'", "declares no shape"],
    );
    c.bad_model(
        "input without type",
        |m| graph(m).input[0].r#type = None,
        &["input 'input'", "no tensor type"],
    );

    // ---- Constant-folding bombs (each would allocate 16–40 GB inside the engine).
    c.bad_model(
        "ConstantOfShape bomb",
        |m| {
            add_output_node(
                m,
                new_node("bomb", "ConstantOfShape", &["bomb_shape"], &["bomb_out"]),
                vec![i64_init("bomb_shape", &[2], &[100_000, 100_000])],
            )
        },
        &["node 'bomb' (ConstantOfShape)", "output 'bomb_out'", "37.3 GiB", "--max-memory"],
    );
    c.bad_model(
        "Expand bomb",
        |m| {
            add_output_node(
                m,
                new_node("bomb", "Expand", &["one", "bomb_shape"], &["bomb_out"]),
                vec![
                    f32_init("one", &[1], &[1.0]),
                    i64_init("bomb_shape", &[3], &[2048, 2048, 2048]),
                ],
            )
        },
        &["node 'bomb' (Expand)", "32.0 GiB", "constant folding"],
    );
    c.bad_model(
        "Tile bomb",
        |m| {
            add_output_node(
                m,
                new_node("bomb", "Tile", &["fc2.bias", "reps"], &["bomb_out"]),
                vec![i64_init("reps", &[1], &[1 << 32])],
            )
        },
        &["node 'bomb' (Tile)", "--max-memory"],
    );
    c.bad_model(
        "Range bomb",
        |m| {
            add_output_node(
                m,
                new_node("bomb", "Range", &["r0", "r1", "r2"], &["bomb_out"]),
                vec![
                    i64_init("r0", &[], &[0]),
                    i64_init("r1", &[], &[5_000_000_000]),
                    i64_init("r2", &[], &[1]),
                ],
            )
        },
        &["node 'bomb' (Range)", "37.3 GiB"],
    );
    c.bad_model(
        "Range with delta 0",
        |m| {
            add_output_node(
                m,
                new_node("bomb", "Range", &["r0", "r1", "r2"], &["bomb_out"]),
                vec![
                    i64_init("r0", &[], &[0]),
                    i64_init("r1", &[], &[5]),
                    i64_init("r2", &[], &[0]),
                ],
            )
        },
        &["node 'bomb' (Range)", "non-zero"],
    );
    c.bad_model(
        "Resize bomb",
        |m| {
            add_output_node(
                m,
                new_node("bomb", "Resize", &["conv1.weight", "", "scales"], &["bomb_out"]),
                vec![f32_init("scales", &[4], &[1.0, 1.0, 20000.0, 20000.0])],
            )
        },
        &["node 'bomb' (Resize)", "--max-memory"],
    );
    c.bad_model(
        "chained shape bomb",
        |m| {
            let g = graph(m);
            g.node.push(new_node("sh", "Shape", &["conv1.weight"], &["sh_out"]));
            g.node.push(new_node("mul", "Mul", &["sh_out", "k"], &["big_shape"]));
            g.initializer.push(i64_init("k", &[1], &[1000]));
            add_output_node(
                m,
                new_node("bomb", "ConstantOfShape", &["big_shape"], &["bomb_out"]),
                vec![],
            );
        },
        &["node 'bomb' (ConstantOfShape)", "--max-memory"],
    );
    let small_bomb = c.model("small_bomb.onnx", |m| {
        add_output_node(
            m,
            new_node("bomb", "ConstantOfShape", &["bomb_shape"], &["bomb_out"]),
            vec![i64_init("bomb_shape", &[2], &[2048, 2048])],
        )
    });
    c.quantize(
        "--max-memory lowered below a 16 MiB constant",
        &small_bomb,
        k,
        &["--max-memory", "1MiB"],
        &["node 'bomb' (ConstantOfShape)", "16.0 MiB", "budget of 1.0 MiB"],
    );

    // ---- Calibration data.
    let p = c.file("wrong_shape.npy", npy_f32(&[4, 1, 9, 9], |i| i as f32));
    c.quantize(
        "data of another shape",
        m,
        &p,
        &[],
        &["wrong_shape.npy", "does not fit input 'input'", "[?, 1, 8, 8]"],
    );
    let empty = c.path("empty_dir");
    std::fs::create_dir(&empty).unwrap();
    c.quantize(
        "empty data folder",
        m,
        empty.to_str().unwrap(),
        &[],
        &["empty_dir", "no .npy or .npz files"],
    );
    let p = c.file("nan.npy", npy_f32(&[4, 1, 8, 8], |i| if i == 70 { f32::NAN } else { 0.5 }));
    c.quantize("NaN in the data", m, &p, &[], &["'input'", "NaN"]);
    let p = c.file("inf.npy", npy_f32(&[4, 1, 8, 8], |i| if i == 3 { f32::INFINITY } else { 0.5 }));
    c.quantize("Inf in the data", m, &p, &[], &["'input'", "non-finite value inf"]);
    let p = c.file("text.npy", "1,2,3");
    c.quantize("text as .npy", m, &p, &[], &["text.npy", "is not a .npy array"]);
    let payload = vec![0u8; 256 * 64 * 4];
    let dict =
        |shape: &str| format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    let p = c.file("claims_10.npy", npy_raw(&dict("(10, 1, 8, 8)"), &payload));
    c.quantize(
        "header claims fewer samples",
        m,
        &p,
        &[],
        &["claims_10.npy", "declares shape [10, 1, 8, 8]", "holds 65536 bytes"],
    );
    let p = c.file("claims_300.npy", npy_raw(&dict("(300, 1, 8, 8)"), &payload));
    c.quantize(
        "header claims more samples",
        m,
        &p,
        &[],
        &["claims_300.npy", "truncated", "declares shape [300, 1, 8, 8]"],
    );
    let p =
        c.file("overflow.npy", npy_raw(&dict("(99999999999999999, 99999999999, 8, 8)"), &payload));
    c.quantize("header shape overflows", m, &p, &[], &["overflow.npy", "overflows"]);
    // Fortran-order arrays are read (and transposed back), not refused: see core's npy tests.
    let p = c.file(
        "half.npy",
        npy_raw(
            "{'descr': '<f2', 'fortran_order': False, 'shape': (256, 1, 8, 8), }",
            &payload[..256 * 64 * 2],
        ),
    );
    c.quantize("float16 data", m, &p, &[], &["half.npy", "'<f2' is not supported"]);
    let p = c.file(
        "ints.npy",
        npy_raw("{'descr': '<i8', 'fortran_order': False, 'shape': (128, 1, 8, 8), }", &payload),
    );
    c.quantize("integer data", m, &p, &[], &["ints.npy", "float32"]);
    let mut v9 = npy_f32(&[4, 1, 8, 8], |_| 0.5);
    v9[6] = 9;
    let p = c.file("v9.npy", v9);
    c.quantize("unknown .npy version", m, &p, &[], &["v9.npy", "format version 9"]);
    let missing = c.path("missing.npy").to_str().unwrap().to_string();
    c.quantize("missing data", m, &missing, &[], &["missing.npy"]);
    let p = c.file("no_samples.npy", npy_raw(&dict("(0, 1, 8, 8)"), &[]));
    c.quantize("zero samples", m, &p, &[], &["no_samples.npy"]);

    // ---- Config files.
    let cfg = |c: &Catalogue, name: &str, text: &str| c.file(name, text);
    let p = cfg(&c, "bad_op.yaml", "config_list:\n  - op_types: [Conv2D]\n");
    c.quantize(
        "config: unknown op type",
        m,
        k,
        &["--config", &p],
        &["config_list[0].op_types", "Conv2D"],
    );
    let p = cfg(&c, "bad_node.yaml", "config_list:\n  - op_names: [conv9]\n");
    c.quantize("config: unknown node", m, k, &["--config", &p], &["conv9", "calibr8 inspect"]);
    let p = cfg(&c, "bad_key.yaml", "methd: entropy\n");
    c.quantize("config: unknown key", m, k, &["--config", &p], &["bad_key.yaml", "methd"]);
    let p = cfg(&c, "deep.yaml", &format!("config_list: {}", "[".repeat(100_000)));
    c.quantize(
        "config: 100k-deep YAML",
        m,
        k,
        &["--config", &p],
        &["deep.yaml", "nests deeper than 32 levels"],
    );
    let p = cfg(&c, "deep_dash.yaml", &format!("config_list:\n  {}x\n", "- ".repeat(100_000)));
    c.quantize(
        "config: 100k-deep YAML sequence",
        m,
        k,
        &["--config", &p],
        &["deep_dash.yaml", "nests deeper"],
    );
    let p = cfg(&c, "deep.json", &"{\"config_list\":".repeat(100_000));
    c.quantize(
        "config: 100k-deep JSON",
        m,
        k,
        &["--config", &p],
        &["deep.json", "reads at most 1048576"],
    );
    let p = cfg(&c, "huge.yaml", &format!("# {}\nmethod: minmax\n", "x".repeat(2 << 20)));
    c.quantize("config: 2 MiB file", m, k, &["--config", &p], &["huge.yaml", "at most 1048576"]);
    let p = cfg(
        &c,
        "exclude_all.yaml",
        "config_list:\n  - op_types: [Conv, Gemm]\n  - exclude_op_types: [Conv, Gemm]\n",
    );
    c.quantize(
        "config: exclude everything",
        m,
        k,
        &["--config", &p],
        &["config_list[1]", "excludes every node", "nothing would be quantized"],
    );
    let p = cfg(&c, "empty_list.yaml", "config_list: []\n");
    c.quantize(
        "config: empty config_list",
        m,
        k,
        &["--config", &p],
        &["config_list", "is empty", "nothing would be quantized"],
    );
    let p = cfg(&c, "no_match.yaml", "config_list:\n  - op_types: [ConvTranspose]\n");
    c.quantize(
        "config: op_types matching nothing",
        m,
        k,
        &["--config", &p],
        &["no rule selects a node", "Conv, Flatten, Gemm, Relu"],
    );
    let p = cfg(
        &c,
        "weight_of_relu.yaml",
        "config_list:\n  - op_types: [Relu]\n    target_names: [weight]\n",
    );
    c.quantize(
        "config: weights of weightless ops",
        m,
        k,
        &["--config", &p],
        &["none of the requested target_names"],
    );
    let p =
        cfg(&c, "int8_precision.yaml", "config_list:\n  - op_types: [Conv]\n    precision: int8\n");
    c.quantize(
        "config: precision int8",
        m,
        k,
        &["--config", &p],
        &["config_list[0].precision", "fp32 or fp16"],
    );
    let p = cfg(&c, "syntax.yaml", "config_list: [\n  - op_types: Conv\n");
    c.quantize("config: broken YAML", m, k, &["--config", &p], &["syntax.yaml", "Fix the YAML"]);
    let p = cfg(&c, "syntax.json", "{\"method\": ");
    c.quantize("config: broken JSON", m, k, &["--config", &p], &["syntax.json", "Fix the JSON"]);
    let p = cfg(&c, "method.yaml", "method: magic\n");
    c.quantize(
        "config: unknown method",
        m,
        k,
        &["--config", &p],
        &["method", "unknown calibration method `magic`"],
    );
    let p = cfg(&c, "bins.yaml", "num_bins: 10\n");
    c.quantize("config: too few bins", m, k, &["--config", &p], &["num_bins", "129"]);
    let p = cfg(&c, "decay.yaml", "method: ema:2\n");
    c.quantize("config: EMA decay 2", m, k, &["--config", &p], &["ema", "(0, 1)"]);
    let p = cfg(&c, "decay_key.yaml", "ema_decay: 0.5\n");
    c.quantize(
        "config: removed ema_decay key",
        m,
        k,
        &["--config", &p],
        &["ema_decay", "no longer a key of its own", "method: ema:0.5"],
    );
    let p = cfg(&c, "targets.yaml", "config_list:\n  - op_types: [Conv]\n    target_names: []\n");
    c.quantize(
        "config: empty target_names",
        m,
        k,
        &["--config", &p],
        &["target_names", "is empty"],
    );
    let missing = c.path("missing.yaml").to_str().unwrap().to_string();
    c.quantize(
        "config: missing file",
        m,
        k,
        &["--config", &missing],
        &["missing.yaml", "No such file"],
    );

    // ---- Options.
    c.quantize(
        "--percentile 150",
        m,
        k,
        &["--method", "percentile", "--percentile", "150"],
        &["percentile", "150", "(0, 100]"],
    );
    c.quantize(
        "--percentile -1",
        m,
        k,
        &["--method", "percentile", "--percentile", "-1"],
        &["percentile", "-1", "(0, 100]"],
    );
    c.quantize("--percentile nan", m, k, &["--percentile", "NaN"], &["percentile", "NaN"]);
    c.quantize("--batch 0", m, k, &["--batch", "0"], &["--batch", "at least 1 sample"]);
    c.quantize("--batch -1", m, k, &["--batch", "-1"], &["--batch", "at least 1 sample"]);
    c.quantize("--batch abc", m, k, &["--batch", "abc"], &["--batch", "not a batch size"]);
    let fixed = c.model("fixed_batch.onnx", |m| input_dims(m, &[4, 1, 8, 8]));
    c.quantize(
        "--batch against a fixed batch",
        &fixed,
        k,
        &["--batch", "8"],
        &["--batch 8", "fixed batch of 4", "pass --batch 4"],
    );
    c.quantize(
        "--trt-version overflow",
        m,
        k,
        &["--trt-version", "999999.0.0"],
        &["--trt-version", "999999.0.0", "7..=99"],
    );
    c.quantize(
        "--trt-version minor 100",
        m,
        k,
        &["--trt-version", "10.100.0"],
        &["--trt-version", "above 99"],
    );
    c.quantize(
        "--trt-version 6.0.1",
        m,
        k,
        &["--trt-version", "6.0.1"],
        &["--trt-version", "TensorRT 7 and later"],
    );
    c.quantize(
        "--trt-version banana",
        m,
        k,
        &["--trt-version", "banana"],
        &["--trt-version", "MAJOR.MINOR.PATCH"],
    );
    c.quantize(
        "--trt-version negative",
        m,
        k,
        &["--trt-version", "-10.9.0"],
        &["--trt-version", "MAJOR.MINOR.PATCH"],
    );
    c.quantize(
        "unknown backend",
        m,
        k,
        &["--backend", "nosuch"],
        &["'nosuch'", "--backend", "possible values", "tract"],
    );
    c.quantize(
        "tensorrt without TensorRT",
        m,
        k,
        &["--backend", "tensorrt"],
        &["libnvinfer.so.10", "Install TensorRT 10"],
    );
    c.quantize("unknown method", m, k, &["--method", "magic"], &["--method", "magic"]);
    c.quantize(
        "--max-memory garbage",
        m,
        k,
        &["--max-memory", "lots"],
        &["--max-memory", "not a size"],
    );
    c.quantize(
        "--max-memory negative",
        m,
        k,
        &["--max-memory", "-1G"],
        &["--max-memory", "not a size"],
    );
    let file = c.file("a_file", "x");
    c.quantize("--out is a file", m, k, &["--out", &file], &["a_file", "is a file"]);
    let under_file = format!("{file}/out");
    c.quantize("--out under a file", m, k, &["--out", &under_file], &["a_file"]);

    // ---- compare.
    let eval = repo("examples/digits/eval.npy").to_str().unwrap().to_string();
    let compare = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = vec![
            s("compare"),
            model.clone(),
            s("--calib"),
            calib.clone(),
            s("--eval"),
            eval.clone(),
            s("--method"),
            s("minmax"),
            s("--quiet"),
            s("--out"),
            s("{out}"),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let p = c.file(
        "labels_out_of_range.npy",
        npy_raw(
            "{'descr': '<i8', 'fortran_order': False, 'shape': (360,), }",
            &(0..360i64).flat_map(|i| (i % 12).to_le_bytes()).collect::<Vec<u8>>(),
        ),
    );
    c.add(
        "compare: labels outside the classes",
        compare(&["--labels", &p]),
        &["labels_out_of_range.npy", "label 10", "outside [0, 10)"],
    );
    let p = c.file(
        "labels_negative.npy",
        npy_raw(
            "{'descr': '<i8', 'fortran_order': False, 'shape': (360,), }",
            &(0..360i64).flat_map(|i| (-(i % 3)).to_le_bytes()).collect::<Vec<u8>>(),
        ),
    );
    c.add(
        "compare: negative labels",
        compare(&["--labels", &p]),
        &["labels_negative.npy", "label -1", "outside [0, 10)"],
    );
    let p = c.file(
        "labels_short.npy",
        npy_raw("{'descr': '<i8', 'fortran_order': False, 'shape': (100,), }", &vec![0u8; 800]),
    );
    c.add(
        "compare: too few labels",
        compare(&["--labels", &p]),
        &["labels_short.npy", "holds 100 labels", "360 samples"],
    );
    let p = c.file("labels_float.npy", npy_f32(&[360], |_| 1.0));
    c.add(
        "compare: float labels",
        compare(&["--labels", &p]),
        &["labels_float.npy", "integer class indices"],
    );
    let p = c.file(
        "labels_2d.npy",
        npy_raw(
            "{'descr': '<i8', 'fortran_order': False, 'shape': (180, 2), }",
            &vec![0u8; 360 * 8],
        ),
    );
    c.add("compare: 2-D labels", compare(&["--labels", &p]), &["labels_2d.npy", "1-D"]);
    c.add(
        "compare: --target-cosine 2",
        compare(&["--target-cosine", "2"]),
        &["--target-cosine 2", "[-1, 1]"],
    );
    c.add(
        "compare: --target-cosine -2",
        compare(&["--target-cosine", "-2"]),
        &["--target-cosine -2", "[-1, 1]"],
    );
    c.add(
        "compare: --target-top1-drop -1",
        compare(&["--target-top1-drop", "-1"]),
        &["--target-top1-drop -1", "≥ 0"],
    );
    c.add(
        "compare: --max-float-layers without a target",
        compare(&["--max-float-layers", "2"]),
        &["--max-float-layers 2", "--target"],
    );
    c.add(
        "compare: --max-float-layers -1",
        compare(&["--max-float-layers", "-1"]),
        &["--max-float-layers", "negative"],
    );
    c.add("compare: --batch 0", compare(&["--batch", "0"]), &["--batch", "at least 1 sample"]);
    let bomb_inspect = c.model("bomb_for_compare.onnx", |m| {
        add_output_node(
            m,
            new_node("bomb", "ConstantOfShape", &["bomb_shape"], &["bomb_out"]),
            vec![i64_init("bomb_shape", &[2], &[100_000, 100_000])],
        )
    });
    let mut args = compare(&[]);
    args[1] = bomb_inspect.clone();
    c.add("compare: constant bomb", args, &["node 'bomb' (ConstantOfShape)", "--max-memory"]);
    let flat = c.model("flatten_for_compare.onnx", |m| set_int(m, "flatten", "axis", -10));
    let mut args = compare(&[]);
    args[1] = flat.clone();
    c.add("compare: Flatten axis -10", args, &["node 'flatten' (Flatten), attribute 'axis'"]);
    c.add(
        "inspect: constant bomb",
        vec![s("inspect"), bomb_inspect],
        &["node 'bomb' (ConstantOfShape)"],
    );
    c.add("inspect: Flatten axis -10", vec![s("inspect"), flat], &["attribute 'axis'", "-10"]);
    c.add(
        "inspect: missing file",
        vec![s("inspect"), c.path("nope.onnx").to_str().unwrap().to_string()],
        &["nope.onnx", "No such file"],
    );
    c
}

/// What a failed run may leave: the output folder exactly as it was, nothing beside it.
fn check(case: &Case, ix: usize, root: &Path) -> Result<(), String> {
    let dir = root.join(format!("case_{ix:03}"));
    std::fs::create_dir(&dir).unwrap();
    let out = dir.join("out");
    // Odd cases run against an existing complete set, even ones against a fresh folder.
    let existing = ix % 2 == 1 && case.writes;
    if existing {
        std::fs::create_dir(&out).unwrap();
        for (k, name) in ARTIFACTS.iter().enumerate() {
            std::fs::write(out.join(name), format!("old set, file {k}")).unwrap();
        }
        std::fs::write(out.join("notes.txt"), "the user's own file").unwrap();
    }
    let before = snapshot(&out);
    let args: Vec<String> =
        case.args.iter().map(|a| a.replace("{out}", out.to_str().unwrap())).collect();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = std::time::Instant::now();
    let o = calibr8(&refs);
    let took = started.elapsed();
    let err = stderr(&o);
    let mut problems = vec![];
    if o.status.code() != Some(2) {
        problems.push(format!("exit {:?}, want 2", o.status.code()));
    }
    if !err.starts_with("calibr8 failed") {
        problems.push("stderr does not start with 'calibr8 failed'".into());
    }
    for e in &case.expect {
        if !err.contains(e.as_str()) {
            problems.push(format!("missing '{e}'"));
        }
    }
    if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
        problems.push("a panic".into());
    }
    // The OS error of a missing file appears once.
    if err.matches("No such file or directory").count() > 1 {
        problems.push("the OS error is printed twice".into());
    }
    if snapshot(&out) != before {
        problems.push("the output folder changed".into());
    }
    let beside = names(&dir);
    let want: Vec<String> = if existing { vec!["out".into()] } else { vec![] };
    if beside != want {
        problems.push(format!("left beside the output folder: {beside:?}"));
    }
    if took.as_secs() > 20 {
        problems.push(format!("took {took:?}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("[{ix}] {}: {}\n    stderr: {}", case.name, problems.join("; "), err.trim()))
    }
}

/// See: https://github.com/calibr8/calibr8/issues/10
#[test]
fn issue_10_bad_inputs_fail_clearly_without_touching_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("inputs");
    std::fs::create_dir(&inputs).unwrap();
    let runs = dir.path().join("runs");
    std::fs::create_dir(&runs).unwrap();
    let catalogue = build(&inputs);
    assert!(catalogue.cases.len() >= 80, "{} cases", catalogue.cases.len());
    // Four at a time: each case is its own process.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(vec![]);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| loop {
                let ix = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(case) = catalogue.cases.get(ix) else { break };
                if let Err(e) = check(case, ix, &runs) {
                    failures.lock().unwrap().push(e);
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        catalogue.cases.len(),
        failures.join("\n")
    );
    eprintln!(
        "{} bad inputs: all exit 2 with a clear message, output untouched",
        catalogue.cases.len()
    );
}

#[test]
fn a_100k_deep_yaml_is_answered_in_milliseconds() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("deep.yaml");
    std::fs::write(&cfg, format!("config_list: {}", "[".repeat(100_000))).unwrap();
    let started = std::time::Instant::now();
    let o = calibr8(&[
        "quantize",
        repo(MODEL).to_str().unwrap(),
        "--calib",
        repo(CALIB).to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    // The whole process, start to exit: well under a second (28.7 s before issue 10).
    assert!(started.elapsed().as_millis() < 1500, "{:?}", started.elapsed());
}

/// Repeated node names (OpenVINO's exports have them; ONNX Runtime runs such models) are
/// renamed on load with a warning, and the export, whose names must be unique for ONNX Runtime,
/// runs there.
#[test]
fn repeated_node_names_are_renamed_and_the_export_runs_in_onnx_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = digits();
    node(&mut m, "relu2").name = "relu1".into();
    let model = save(dir.path(), "dup.onnx", &m);
    let out = dir.path().join("out");
    let o = calibr8(&[
        "quantize",
        model.to_str().unwrap(),
        "--calib",
        repo(CALIB).to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("renamed them") && err.contains("'relu1' (Relu) → 'relu1_"), "{err}");
    let qdq = out.join("model.qdq.onnx");
    let exported = pb::ModelProto::decode(std::fs::read(&qdq).unwrap().as_slice()).unwrap();
    let mut names: Vec<&str> =
        exported.graph.as_ref().unwrap().node.iter().map(|n| n.name.as_str()).collect();
    let all = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all, "node names repeat in the export");
    let status = std::process::Command::new("python3")
        .arg(repo("tests/ort_check.py"))
        .args([qdq.as_path(), repo(CALIB).as_path(), dir.path().join("y.npy").as_path()])
        .status()
        .expect("python3 with onnx and onnxruntime");
    assert!(status.success());
}
