//! TrtPlan on real graphs, on CPU without TensorRT: the digits CNN (Conv/Relu/Gemm) and a
//! ResNet-style graph with BatchNormalization, Pad, Add and skip connections.
//!
//! Ranges are synthetic but real in shape: weights get their true per-channel min/max from the
//! initializers, activations a distinct deterministic range per tensor, so an assertion that a
//! tensor carries "its" amax cannot pass by accident.

use calibr8_calibration::{Granularity, Method, Scheme, TensorRange};
use calibr8_core::graph::tensor_f32;
use calibr8_core::plan::TensorRole;
use calibr8_core::{
    ConfigRule, Graph, Lowering, OnnxModel, Precision, QuantConfig, QuantPlan, QuantizedModel,
};
use calibr8_tensorrt::plan::{NetworkSource, RangeOrigin, UnrangedReason};
use calibr8_tensorrt::{BatchProfile, LoweringMode, TrtOptions, TrtPlan};

const DIGITS: &str = "../../examples/digits/digits_cnn.onnx";
const RESNET: &str = "../../tests/data/resnet_tiny.onnx";

/// Quantizes `path` under `config` with synthetic, distinct ranges.
fn quantized(path: &str, config: QuantConfig) -> QuantizedModel {
    let model = OnnxModel::load(path).expect("model loads");
    let plan = QuantPlan::resolve(&model, &config).expect("plan resolves");
    let graph = Graph::new(&model);
    let mut ranges = std::collections::BTreeMap::new();
    for (ix, (name, target)) in plan.tensors.iter().enumerate() {
        let range = match (target.role, target.granularity) {
            (TensorRole::Weight, Granularity::PerChannel { axis }) => {
                let (values, dims) =
                    tensor_f32(graph.constant(name).expect("weight is constant")).expect("f32");
                let channels = dims[axis];
                let inner: usize = dims[axis + 1..].iter().product();
                let (mut min, mut max) = (vec![0f32; channels], vec![0f32; channels]);
                for (i, v) in values.iter().enumerate() {
                    let c = (i / inner) % channels;
                    min[c] = min[c].min(*v);
                    max[c] = max[c].max(*v);
                }
                let amax = min.iter().zip(&max).map(|(a, b)| a.abs().max(b.abs())).collect();
                TensorRange {
                    axis: Some(axis),
                    min,
                    max,
                    amax,
                    ..TensorRange::per_tensor(name, Method::MinMax, 0.0, 0.0)
                }
            }
            _ => {
                let amax = 1.0 + ix as f32 * 0.25;
                match target.spec.scheme {
                    Scheme::Symmetric => TensorRange::per_tensor(name, Method::MinMax, -amax, amax),
                    // Affine: a lopsided range, as after a ReLU6 or a biased layer.
                    Scheme::Affine => TensorRange::per_tensor(name, Method::MinMax, -0.5, amax),
                }
            }
        };
        ranges.insert(name.clone(), range);
    }
    QuantizedModel::new(model, plan, ranges, config).expect("quantized model")
}

fn int8_plan(q: &QuantizedModel) -> TrtPlan {
    TrtPlan::new(Lowering::Quantized(q), &TrtOptions::default()).expect("plan")
}

/// The invariant of the issue: every quantized activation has its symmetric range, and every
/// input and output of every int8 layer is ranged, fused into a ranged tensor, or listed.
fn assert_nothing_dropped(q: &QuantizedModel, plan: &TrtPlan) {
    for t in q.activations() {
        let r = plan
            .ranges
            .get(&t.target.tensor)
            .unwrap_or_else(|| panic!("{} has no range", t.target.tensor));
        let expected = t.symmetric_amax().into_iter().fold(0.0f32, f32::max);
        assert_eq!(r.amax, expected, "{}", t.target.tensor);
        assert_eq!(r.origin, RangeOrigin::Calibrated);
    }
    for t in q.weights() {
        assert!(
            plan.weights_by_tensorrt.contains(&t.target.tensor),
            "weight {} dropped",
            t.target.tensor
        );
    }
    for r in plan.ranges.values() {
        assert!(r.amax > 0.0 && r.amax.is_finite(), "{}: {}", r.tensor, r.amax);
    }
    let graph = Graph::new(&q.model);
    let listed = |t: &str| plan.unranged.iter().any(|u| u.tensor == t);
    for node in
        graph.nodes.iter().filter(|n| q.node_precision.get(&n.name) == Some(&Precision::Int8))
    {
        for input in node.inputs.iter().filter(|i| !i.is_empty() && !graph.is_constant(i)) {
            assert!(
                plan.ranges.contains_key(input) || listed(input),
                "input {input} of {} dropped",
                node.name
            );
        }
        for output in &node.outputs {
            let covered = plan.ranges.contains_key(output)
                || listed(output)
                || plan
                    .fused
                    .get(output)
                    .is_some_and(|tail| plan.ranges.contains_key(tail) || listed(tail));
            assert!(covered, "output {output} of {} dropped", node.name);
        }
    }
}

#[test]
fn digits_dynamic_range_covers_every_int8_layer() {
    let q = quantized(DIGITS, QuantConfig::default());
    let plan = int8_plan(&q);
    print!("{}", plan.summary());
    assert_nothing_dropped(&q, &plan);

    assert_eq!(plan.source, NetworkSource::Float);
    assert!(plan.flags.int8 && plan.flags.fp16 && !plan.flags.strongly_typed);
    assert!(!plan.flags.prefer_precision_constraints && plan.layers.is_empty());
    // Conv1 + Relu1 fuse; the fused layer's output relu1_out is conv2's calibrated input.
    assert_eq!(plan.fused["conv1_out"], "relu1_out");
    assert_eq!(plan.fused["fc1_out"], "relu3_out");
    // relu2_out is fc1's input seen through Flatten: same range, derived, not guessed.
    let relu2 = &plan.ranges["relu2_out"];
    assert_eq!(relu2.amax, plan.ranges["flatten_out"].amax);
    assert!(matches!(&relu2.origin, RangeOrigin::Derived { op_type, .. } if op_type == "Flatten"));
    // Only the model output is left without a range, and it is no warning.
    assert_eq!(plan.unranged.len(), 1);
    assert_eq!(plan.unranged[0].tensor, "logits");
    assert_eq!(plan.unranged[0].reason, UnrangedReason::GraphOutput);
    assert_eq!(plan.warnings().count(), 0);
    // Dynamic batch: N → 1 / 32 / 32.
    assert_eq!(plan.profile.len(), 1);
    assert_eq!(plan.profile[0].input, "input");
    assert_eq!(
        (plan.profile[0].min.clone(), plan.profile[0].max.clone()),
        (vec![1, 1, 8, 8], vec![32, 1, 8, 8])
    );
}

#[test]
fn excluded_layers_carry_their_precision() {
    let mut config = QuantConfig::default();
    config.config_list.push(ConfigRule {
        exclude_op_names: vec!["fc2".into()],
        precision: Precision::Fp16,
        ..ConfigRule::default()
    });
    config.config_list.push(ConfigRule {
        exclude_op_names: vec!["conv1".into()],
        precision: Precision::Fp32,
        ..ConfigRule::default()
    });
    let q = quantized(DIGITS, config);
    let plan = int8_plan(&q);
    print!("{}", plan.summary());
    assert_nothing_dropped(&q, &plan);
    let precision =
        |layer: &str| plan.layers.iter().find(|l| l.layer == layer).map(|l| l.precision);
    assert_eq!(precision("fc2"), Some(Precision::Fp16));
    assert_eq!(precision("conv1"), Some(Precision::Fp32));
    assert_eq!(
        plan.layers.iter().find(|l| l.layer == "fc2").map(|l| l.outputs.clone()),
        Some(vec!["logits".into()])
    );
    assert!(plan.flags.prefer_precision_constraints);
    // fc2 no longer quantizes its input, so fc1's fused output lost its range: a warning.
    assert!(plan.warnings().any(|u| u.tensor == "relu3_out" && u.layers == ["fc1"]));
    assert!(!plan.ranges.contains_key("relu3_out"));
}

#[test]
fn resnet_add_and_skip_connections() {
    let q = quantized(RESNET, QuantConfig::default());
    let plan = int8_plan(&q);
    print!("{}", plan.summary());
    assert_nothing_dropped(&q, &plan);

    // The skip input of block1's Add is the stem output, known through the zero Pad.
    let stem = &plan.ranges["stem_out"];
    assert_eq!(stem.amax, plan.ranges["block1_padded"].amax);
    assert!(matches!(&stem.origin, RangeOrigin::Derived { node, .. } if node == "block1_pad"));
    // Conv + BN + residual Add + Relu fuse into one layer ending at block1_out (calibrated).
    for t in ["block1_conv2_out", "block1_bn2_out", "block1_add_out"] {
        assert_eq!(plan.fused[t], "block1_out", "{t}");
    }
    assert_eq!(plan.fused["stem_conv_out"], "stem_out");
    // block2's Add joins two conv branches, neither calibrated: TensorRT must materialize one of
    // them, and calibr8 says both lack a range instead of dropping them.
    for (t, layer) in
        [("block2_bn2_out", "block2_conv2"), ("block2_downsample_out", "block2_downsample")]
    {
        let u = plan
            .unranged
            .iter()
            .find(|u| u.tensor == t)
            .unwrap_or_else(|| panic!("{t} not listed"));
        assert_eq!(u.reason, UnrangedReason::NotCalibrated);
        assert_eq!(u.layers, [layer]);
    }
    assert!(plan
        .unranged
        .iter()
        .any(|u| u.tensor == "logits" && u.reason == UnrangedReason::GraphOutput));
    // Every int8 layer is a Conv or Gemm: 6 convs and the fc.
    let int8 = q.node_precision.values().filter(|p| **p == Precision::Int8).count();
    assert_eq!(int8, 7);
}

#[test]
fn affine_ranges_are_symmetrized_and_reported() {
    let mut config = QuantConfig::default();
    config.config_list[0].quant_scheme = Scheme::Affine;
    config.config_list[0].granularity = Default::default();
    let q = quantized(RESNET, config);
    let plan = int8_plan(&q);
    assert_nothing_dropped(&q, &plan);
    assert_eq!(plan.symmetrized.len(), q.activations().count());
    for s in &plan.symmetrized {
        assert_eq!(s.min, -0.5);
        assert_eq!(s.amax, s.max.abs().max(s.min.abs()));
        assert_eq!(plan.ranges[&s.tensor].amax, s.amax);
    }
    assert!(plan.summary().contains("affine range of "), "{}", plan.summary());
}

/// A symmetric-scheme tensor whose observed min is not −max is not "affine": its amax already
/// is the symmetric bound, and nothing is reinterpreted.
// See: https://github.com/calibr8/calibr8/issues/9 (point 7)
#[test]
fn issue_9_lopsided_symmetric_ranges_are_not_reported_as_affine() {
    let mut q = quantized(DIGITS, QuantConfig::default());
    for t in q.tensors.values_mut().filter(|t| t.target.role == TensorRole::Activation) {
        let mut range = t.range.clone();
        range.min = vec![-0.25];
        *t = calibr8_core::TensorQuant::new(t.target.clone(), range);
    }
    let plan = int8_plan(&q);
    assert!(plan.symmetrized.is_empty(), "{:?}", plan.symmetrized);
    assert!(!plan.summary().contains("affine"), "{}", plan.summary());
    assert_nothing_dropped(&q, &plan);
}

/// TensorRT's ONNX parser accepts only symmetric int8 Q/DQ outside DLA
/// (`NvOnnxParser.h`: uint8 and asymmetric zero points need
/// `kENABLE_UINT8_AND_ASYMMETRIC_QUANTIZATION_DLA`): explicit mode hands it the symmetric int8
/// variant of an affine/uint8 calibration and names every tensor it changed.
// See: https://github.com/calibr8/calibr8/issues/16 (point 2)
#[test]
fn issue_16_explicit_mode_exports_affine_uint8_as_symmetric_int8() {
    let mut config = QuantConfig::default();
    config.config_list[0].quant_scheme = Scheme::Affine;
    config.config_list[0].quant_dtype = calibr8_calibration::QuantDtype::Uint8;
    config.config_list[0].granularity = Default::default();
    let q = quantized(DIGITS, config);
    let zero_points = |model: &OnnxModel| -> Vec<(i32, Vec<u8>)> {
        let inits: std::collections::BTreeMap<&str, _> =
            model.graph().initializer.iter().map(|t| (t.name.as_str(), t)).collect();
        model
            .graph()
            .node
            .iter()
            .filter(|n| n.op_type == "QuantizeLinear")
            .map(|n| {
                let zp = inits[n.input[2].as_str()];
                (zp.data_type, zp.raw_data.clone())
            })
            .collect()
    };
    // The calibrated QDQ export (for ONNX Runtime and friends) is affine uint8 as asked...
    let calibrated = calibr8_core::export::qdq_model(&q).expect("qdq");
    assert!(zero_points(&calibrated)
        .iter()
        .any(|(dtype, zp)| *dtype == 2 && zp.iter().any(|z| *z != 0)));

    // ... but TensorRT gets symmetric int8 (type 3), zero point 0, for every Q/DQ.
    let options = TrtOptions { mode: LoweringMode::Explicit, ..TrtOptions::default() };
    let plan = TrtPlan::new(Lowering::Quantized(&q), &options).expect("plan");
    let qdq = OnnxModel::from_bytes(&plan.onnx, "plan").expect("QDQ parses");
    let zps = zero_points(&qdq);
    assert!(!zps.is_empty());
    for (dtype, zp) in &zps {
        assert_eq!(*dtype, 3, "int8 zero points only");
        assert!(zp.iter().all(|z| *z == 0), "{zp:?}");
    }
    // Every tensor calibrated affine/uint8 is listed with its symmetric hull, and a note says so.
    assert_eq!(plan.symmetrized.len(), q.tensors.len());
    for s in &plan.symmetrized {
        let t = &q.tensors[&s.tensor];
        assert_eq!(s.amax, t.symmetric_amax().into_iter().fold(0.0f32, f32::max), "{}", s.tensor);
    }
    assert!(
        plan.notes.iter().any(|n| n.contains("accepts only symmetric int8 Q/DQ")
            && n.contains(&plan.symmetrized[0].tensor)),
        "{:?}",
        plan.notes
    );
}

fn max_abs(model: &OnnxModel, initializer: &str) -> f32 {
    let graph = Graph::new(model);
    let (values, _) = tensor_f32(graph.constant(initializer).expect("initializer")).expect("f32");
    values.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

/// TensorRT 10's parser feeds Gemm/MatMul weights to the matrix multiply through Constant
/// layers, and implicit int8 needs a range on every float input of an int8 layer: the plan
/// carries `±max|W|` for each (A and B; never Gemm's bias C).
// See: https://github.com/calibr8/calibr8/issues/16 (point 8)
#[test]
fn issue_16_gemm_and_matmul_weights_get_their_constant_range() {
    let mut config = QuantConfig::default();
    config.config_list[0].op_types = vec!["Conv".into(), "Gemm".into(), "MatMul".into()];
    let q = quantized("../../tests/data/mlp_gemm.onnx", config);
    let plan = int8_plan(&q);
    print!("{}", plan.summary());
    let found: Vec<(&str, &str)> =
        plan.constant_ranges.iter().map(|c| (c.node.as_str(), c.weight.as_str())).collect();
    assert_eq!(
        found,
        [
            ("fc1", "fc1.weight"),
            ("fc2", "fc2.weight"),
            ("fc3_matmul", "fc3.weight"),
            ("fc4", "fc4.weight")
        ]
    );
    for c in &plan.constant_ranges {
        assert_eq!(c.amax, max_abs(&q.model, &c.weight), "{}", c.weight);
        assert!(c.amax > 0.0);
    }
    // Conv weights are kernel weights of the convolution layer, not Constant layers.
    let digits = int8_plan(&quantized(DIGITS, QuantConfig::default()));
    assert!(digits.constant_ranges.iter().all(|c| c.node.starts_with("fc")));
    // Explicit mode carries weights in Q/DQ: no dynamic ranges at all.
    let explicit = TrtOptions { mode: LoweringMode::Explicit, ..TrtOptions::default() };
    let plan = TrtPlan::new(Lowering::Quantized(&q), &explicit).expect("plan");
    assert!(plan.constant_ranges.is_empty());
}

/// `trtexec --int8 --calib` must build the engine calibr8 builds: the cache holds every range the
/// plan sets — calibrated, derived, and the Gemm/MatMul weight constants — not only the
/// calibrated activations.
// See: https://github.com/calibr8/calibr8/issues/16 (point 7)
#[test]
fn issue_16_calibration_cache_holds_every_range_the_plan_sets() {
    use calibr8_core::export::{calibration_cache, parse_calibration_cache, TrtVersion};
    use calibr8_tensorrt::engine_file::calibration_cache_for;
    let q = quantized(RESNET, QuantConfig::default());
    let plan = int8_plan(&q);
    let cache = parse_calibration_cache(&calibration_cache_for(&plan, 101_600)).expect("parses");
    assert_eq!(cache.version, TrtVersion { major: 10, minor: 16, patch: 0 });
    let derived = plan.ranges.values().filter(|r| r.origin != RangeOrigin::Calibrated).count();
    assert!(derived > 0, "resnet_tiny has derived ranges (Pad, skip connections)");
    for r in plan.ranges.values() {
        assert_eq!(cache.scales.get(&r.tensor), Some(&(r.amax / 127.0)), "{}", r.tensor);
    }
    for c in &plan.constant_ranges {
        assert_eq!(cache.scales.get(&c.weight), Some(&(c.amax / 127.0)), "{}", c.weight);
    }
    assert_eq!(cache.scales.len(), plan.ranges.len() + plan.constant_ranges.len());
    // core's cache (what `calibr8 quantize` writes) is the calibrated subset of it.
    let core =
        parse_calibration_cache(&calibration_cache(&q, TrtVersion::default())).expect("core");
    assert_eq!(core.scales.len(), plan.ranges.len() - derived);
    for (name, scale) in &core.scales {
        assert_eq!(cache.scales.get(name), Some(scale), "{name}");
    }
}

#[test]
fn explicit_mode_builds_the_qdq_model_strongly_typed() {
    let q = quantized(RESNET, QuantConfig::default());
    let options = TrtOptions { mode: LoweringMode::Explicit, ..TrtOptions::default() };
    let plan = TrtPlan::new(Lowering::Quantized(&q), &options).expect("plan");
    assert_eq!(plan.source, NetworkSource::Qdq);
    assert!(plan.flags.strongly_typed && !plan.flags.int8 && !plan.flags.fp16);
    assert!(plan.ranges.is_empty() && plan.layers.is_empty());
    let qdq = OnnxModel::from_bytes(&plan.onnx, "plan").expect("QDQ model parses");
    let ops: Vec<&str> = qdq.graph().node.iter().map(|n| n.op_type.as_str()).collect();
    assert!(ops.contains(&"QuantizeLinear") && ops.contains(&"DequantizeLinear"));
}

#[test]
fn float_precisions_and_profile_errors() {
    let model = OnnxModel::load(DIGITS).expect("model");
    let int8 = TrtPlan::new(Lowering::Float(&model), &TrtOptions::default());
    assert!(int8.expect_err("int8 needs ranges").to_string().contains("quantized model"));

    let fp16 = TrtOptions {
        precision: Precision::Fp16,
        batch: BatchProfile { min: 2, opt: 4, max: 8 },
        ..TrtOptions::default()
    };
    let plan = TrtPlan::new(Lowering::Float(&model), &fp16).expect("fp16 plan");
    assert!(plan.flags.fp16 && !plan.flags.int8 && plan.ranges.is_empty());
    assert_eq!(plan.profile[0].opt, vec![4, 1, 8, 8]);

    let fp32 = TrtOptions { precision: Precision::Fp32, ..TrtOptions::default() };
    let plan = TrtPlan::new(Lowering::Float(&model), &fp32).expect("fp32 plan");
    assert_eq!(plan.flags, Default::default());

    let bad = TrtOptions {
        batch: BatchProfile { min: 8, opt: 4, max: 2 },
        precision: Precision::Fp32,
        ..TrtOptions::default()
    };
    let err = TrtPlan::new(Lowering::Float(&model), &bad).expect_err("bad profile");
    assert!(err.to_string().contains("min <= opt <= max"), "{err}");

    // fp32-excluded nodes stay fp32 in an fp16 build of the quantized model.
    let mut config = QuantConfig::default();
    config
        .config_list
        .push(ConfigRule { exclude_op_names: vec!["fc2".into()], ..ConfigRule::default() });
    let q = quantized(DIGITS, config);
    let plan = TrtPlan::new(Lowering::Quantized(&q), &fp16).expect("fp16 plan of q");
    assert_eq!(plan.layers.len(), 1);
    assert_eq!((plan.layers[0].layer.as_str(), plan.layers[0].precision), ("fc2", Precision::Fp32));
    assert!(plan.flags.prefer_precision_constraints);
}
