//! Issue 4: names in every artifact map back to burn module paths, and an op burn-onnx cannot
//! lower is an error naming the op and where it sits.

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::prelude::*;
use burn::tensor::Distribution;
use calibr8_core::export::{write_artifacts, ArtifactOptions};
use calibr8_core::QuantConfig;
use prost::Message;
use std::collections::BTreeSet;

#[derive(Module, Debug)]
struct Block {
    conv: Conv2d,
    relu: Relu,
}

#[derive(Module, Debug)]
struct Head {
    fc: Linear,
}

/// Nested modules: a Vec of blocks and a sub-module, so paths have several segments.
#[derive(Module, Debug)]
struct Net {
    features: Vec<Block>,
    head: Head,
}

impl Net {
    fn new(device: &Device) -> Net {
        let conv = |i, o| {
            Conv2dConfig::new([i, o], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        Net {
            features: vec![
                Block { conv: conv(1, 4), relu: Relu::new() },
                Block { conv: conv(4, 8), relu: Relu::new() },
            ],
            head: Head { fc: LinearConfig::new(8 * 8 * 8, 10).init(device) },
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = x;
        for block in &self.features {
            x = block.relu.forward(block.conv.forward(x));
        }
        let [n, c, h, w] = x.dims();
        self.head.fc.forward(x.reshape([n, c * h * w]))
    }
}

/// Every module path of `module` (what a user can name), from burn's own visitor.
fn module_paths<M: Module>(module: &M) -> BTreeSet<String> {
    #[derive(Default)]
    struct Paths {
        path: Vec<String>,
        all: BTreeSet<String>,
    }
    impl ModuleVisitor for Paths {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.into());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, _: &Param<Tensor<D>>) {
            // The path ends with the parameter's own name; its module is the rest.
            let module = self.path[..self.path.len() - 1].join(".");
            self.all.insert(module);
        }
    }
    let mut p = Paths::default();
    module.visit(&mut p);
    p.all
}

/// The module path a calibr8 tensor or node name refers to: `a.b/relu/output` → `a.b`,
/// `a.b.weight` → `a.b`; `input` → `input`. Nodes and tensors calibr8 adds for Q/DQ are
/// `{tensor}.{role}` (ARCHITECTURE.md, "Names"): the role is removed first.
fn module_of_name(name: &str) -> String {
    let roles = [".quant", ".dequant", ".scale", ".zero_point", ".quantized"];
    let name = roles.iter().find_map(|r| name.strip_suffix(r)).unwrap_or(name);
    match name.split_once('/') {
        Some((module, _)) => module.to_string(),
        None if name == "input" => name.to_string(),
        None => name.rsplit_once('.').map(|(m, _)| m.to_string()).unwrap_or_default(),
    }
}

fn batches(device: &Device) -> Vec<Tensor<4>> {
    device.seed(7);
    (0..3).map(|_| Tensor::<4>::random([8, 1, 8, 8], Distribution::Default, device)).collect()
}

#[test]
fn issue_4_names_in_artifacts_map_to_module_paths() -> anyhow::Result<()> {
    let device = Device::default();
    let net = Net::new(&device);
    let example = Tensor::zeros([2, 1, 8, 8], &device);
    let q = calibr8_burn::quantize(
        &net,
        Net::forward,
        example,
        batches(&device),
        &QuantConfig::default(),
    )?;

    // The graph: module nodes carry module paths, parameter-free ops follow the module whose
    // output they transform.
    let graph = q.model.graph();
    let node_names: BTreeSet<&str> = graph.node.iter().map(|n| n.name.as_str()).collect();
    for expected in ["features.0.conv", "features.1.conv", "head.fc", "features.0.conv/relu"] {
        assert!(node_names.contains(expected), "no node {expected} in {node_names:?}");
    }
    let conv0 = graph.node.iter().find(|n| n.name == "features.0.conv").expect("conv node");
    assert_eq!(conv0.op_type, "Conv");
    assert_eq!(conv0.input, ["input", "features.0.conv.weight", "features.0.conv.bias"]);
    assert_eq!(conv0.output, ["features.0.conv/output"]);
    assert_eq!(q.model.outputs()[0].name, "head.fc/output");

    // What calibr8 quantized (default: weights + inputs of Conv / MatMul).
    let quantized: BTreeSet<&str> = q.tensors.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "input",
        "features.0.conv.weight",
        "features.0.conv/relu/output",
        "features.1.conv.weight",
        "features.1.conv/reshape/output",
        "head.fc.weight",
    ]
    .into();
    assert_eq!(quantized, expected);

    // Every name in every artifact maps back to a module path of the burn module.
    let mut paths = module_paths(&net);
    paths.insert("input".into());
    let dir = tempfile::tempdir()?;
    write_artifacts(&q, dir.path(), &ArtifactOptions::default())?;

    let ranges: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("ranges.json"))?)?;
    let ranges_text = ranges.to_string();
    for name in &expected {
        assert!(ranges_text.contains(&format!("\"{name}\"")), "ranges.json lacks {name}");
    }

    let cache = std::fs::read_to_string(dir.path().join("calibration.cache"))?;
    let cache_names: Vec<&str> =
        cache.lines().skip(1).filter_map(|l| l.split_once(": ").map(|(n, _)| n)).collect();
    assert!(!cache_names.is_empty());
    for name in &cache_names {
        assert!(paths.contains(&module_of_name(name)), "cache name {name} maps to no module");
    }
    for name in ["input", "features.0.conv/relu/output", "features.1.conv/reshape/output"] {
        assert!(cache_names.contains(&name), "calibration.cache lacks {name}: {cache_names:?}");
    }

    let qdq = calibr8_core::pb::ModelProto::decode(
        std::fs::read(dir.path().join("model.qdq.onnx"))?.as_slice(),
    )?;
    let qdq_graph = qdq.graph.expect("graph");
    for node in &qdq_graph.node {
        // A module's own node is named by its path; others by `{path}/...`.
        assert!(
            paths.contains(&node.name) || paths.contains(&module_of_name(&node.name)),
            "QDQ node {} ({}) maps to no module",
            node.name,
            node.op_type
        );
    }
    let qdq_nodes: BTreeSet<&str> = qdq_graph.node.iter().map(|n| n.name.as_str()).collect();
    for name in ["features.1.conv/reshape/output.quant", "head.fc.weight.dequant", "head.fc"] {
        assert!(qdq_nodes.contains(name), "QDQ model lacks node {name}");
    }
    Ok(())
}

#[test]
fn issue_4_config_rules_take_module_paths() -> anyhow::Result<()> {
    let device = Device::default();
    let net = Net::new(&device);
    // NNI-style rule naming a burn module: keep the classifier head in fp32.
    let mut config = QuantConfig::default();
    config.config_list.push(calibr8_core::ConfigRule {
        exclude_op_names: vec!["head.fc".into()],
        ..Default::default()
    });
    let q = calibr8_burn::quantize(
        &net,
        Net::forward,
        Tensor::zeros([2, 1, 8, 8], &device),
        batches(&device),
        &config,
    )?;
    assert!(!q.tensors.contains_key("head.fc.weight"));
    assert!(!q.tensors.contains_key("features.1.conv/reshape/output"));
    assert!(q.tensors.contains_key("features.1.conv.weight"));
    assert_eq!(q.node_precision.get("head.fc"), Some(&calibr8_core::Precision::Fp32));
    Ok(())
}

#[derive(Module, Debug)]
struct WithGelu {
    head: Head,
}

#[test]
fn issue_4_unsupported_op_names_op_and_module_path() {
    let device = Device::default();
    let net = WithGelu { head: Head { fc: LinearConfig::new(4, 3).init(&device) } };
    let forward =
        |m: &WithGelu, x: Tensor<2>| burn::tensor::activation::gelu(m.head.fc.forward(x)).sin();
    let err = calibr8_burn::trace(&net, forward, Tensor::zeros([2, 4], &device))
        .expect_err("gelu/sin cannot be lowered by burn-onnx 0.22");
    let message = err.to_string();
    eprintln!("{message}");
    match &err {
        calibr8_burn::Error::UnsupportedOp { op, module_path, .. } => {
            assert!(op.to_lowercase().contains("gelu"), "op {op}");
            assert_eq!(module_path, "head.fc/gelu");
            assert!(message.contains(op.as_str()) && message.contains("head.fc/gelu"), "{message}");
        }
        other => panic!("expected UnsupportedOp, got {other:?}"),
    }
}
