//! The deployment presets: how a config names them, what the CPU preset plans (outputs, shared
//! parameters, u8 activations with s8 weights) and what its QDQ export holds (int32 biases).
//! ONNX Runtime's verdict on the export is in backends/ort/tests/cpu_preset.rs.
//! See: https://github.com/calibr8/calibr8/issues/13

use calibr8_calibration::{Method, QuantDtype, Scheme, TensorRange};
use calibr8_core::export::qdq_model;
use calibr8_core::{OnnxModel, Preset, QuantConfig, QuantPlan, QuantizedModel};
use std::collections::BTreeMap;

const DIGITS: &str = "../examples/digits/digits_cnn.onnx";
const RESNET: &str = "../tests/data/resnet_tiny.onnx";

fn yaml(text: &str) -> QuantConfig {
    QuantConfig::from_text(text, false, "test.yaml").unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn a_config_names_the_preset_and_gets_its_rules_unless_it_has_its_own() {
    assert_eq!(QuantConfig::default().preset, Preset::Tensorrt);
    for (text, preset) in [
        ("preset: cpu\n", Preset::Cpu),
        ("preset: cpu_avx2\n", Preset::CpuAvx2),
        ("preset: cpu-avx2\n", Preset::CpuAvx2),
        ("preset: tensorrt\n", Preset::Tensorrt),
        ("preset: trt\n", Preset::Tensorrt),
    ] {
        let config = yaml(text);
        assert_eq!(config.preset, preset, "{text}");
        assert_eq!(config.config_list, preset.rules(), "{text}");
    }
    // A user's rules stay; the preset still decides the layout around them.
    let own = yaml("preset: cpu\nconfig_list:\n  - op_types: [Conv]\n");
    assert_eq!(own.preset, Preset::Cpu);
    assert_eq!(own.config_list.len(), 1);
    assert_eq!(own.config_list[0].op_types, ["Conv"]);
    // Switching presets replaces the old preset's own rules, never a user's.
    assert_eq!(QuantConfig::default().with_preset(Preset::Cpu).config_list, Preset::Cpu.rules());
    assert_eq!(own.clone().with_preset(Preset::Tensorrt).config_list, own.config_list);
    let err = QuantConfig::from_text("preset: gpu\n", false, "p.yaml").unwrap_err().to_string();
    assert!(err.contains("p.yaml") && err.contains("gpu"), "{err}");
    assert_eq!("CPU-AVX2".parse::<Preset>().unwrap(), Preset::CpuAvx2);
    let err = "arm".parse::<Preset>().unwrap_err().to_string();
    assert!(err.contains("'arm'") && err.contains("cpu_avx2"), "{err}");
}

#[test]
fn the_cpu_rules_quantize_what_onnx_runtime_has_int8_kernels_for() {
    let rule = &Preset::Cpu.rules()[0];
    for op in ["Conv", "Gemm", "MatMul", "Add", "Mul", "MaxPool", "GlobalAveragePool", "Reshape"] {
        assert!(rule.op_types.iter().any(|o| o == op), "{op} missing from {:?}", rule.op_types);
    }
    // No QLinearConvTranspose, no int8 Softmax in ONNX Runtime's CPU kernels.
    assert!(!rule.op_types.iter().any(|o| o == "ConvTranspose" || o == "Softmax"));
    assert_eq!((rule.quant_dtype, rule.quant_scheme), (QuantDtype::Uint8, Scheme::Affine));
    assert_eq!(rule.weight_quant_dtype, Some(QuantDtype::Int8));
    assert_eq!(rule.weight_quant_scheme, Some(Scheme::Symmetric));
    assert!(!rule.reduce_range && Preset::CpuAvx2.rules()[0].reduce_range);
}

/// Plans `path` under `preset` and gives every observed tensor a minmax range of [lo, hi].
fn quantized(path: &str, preset: Preset) -> QuantizedModel {
    let model = OnnxModel::load(path).unwrap();
    let config = QuantConfig::default().with_preset(preset);
    let plan = QuantPlan::resolve(&model, &config).unwrap();
    let ranges: BTreeMap<String, TensorRange> = plan
        .tensors
        .keys()
        .map(|t| (t.clone(), TensorRange::per_tensor(t.clone(), Method::MinMax, 0.0, 2.0)))
        .collect();
    QuantizedModel::new(model, plan, ranges, config).unwrap()
}

#[test]
fn the_cpu_preset_puts_q_dq_on_outputs_after_the_relu_and_shares_pass_through_parameters() {
    // digits: conv1 → relu1 → conv2 → relu2 → flatten → fc1 → relu3 → fc2 (the graph output).
    let model = OnnxModel::load(DIGITS).unwrap();
    let plan =
        QuantPlan::resolve(&model, &QuantConfig::default().with_preset(Preset::Cpu)).unwrap();
    let relu_outputs: Vec<&String> =
        plan.tensors.keys().filter(|t| t.starts_with("relu")).collect();
    assert_eq!(relu_outputs.len(), 3, "{:?}", plan.tensors.keys());
    // The Conv / Gemm outputs a Relu reads alone carry no Q/DQ of their own: ONNX Runtime's
    // ReluQuantFusion removes the Relu when its output's Q has zero point 0.
    for t in ["conv1_out", "conv2_out", "fc1_out"] {
        assert!(!plan.tensors.contains_key(t) && !plan.same_params.contains_key(t), "{t}");
    }
    // fc2 writes the graph output: QGemm can output float, so no last rounding.
    assert!(!plan.tensors.contains_key("logits"));
    assert_eq!(plan.tensors["input"].spec.dtype, QuantDtype::Uint8);
    assert_eq!(plan.tensors["conv1.weight"].spec.dtype, QuantDtype::Int8);
    assert!(plan.tensors["conv1.weight"].spec.narrow_range);
    // The TensorRT preset quantizes the inputs and weights of Conv / Gemm only: relu2_out is
    // read by Flatten, not by a weighted op.
    let trt = QuantPlan::resolve(&model, &QuantConfig::default()).unwrap();
    assert!(!trt.tensors.contains_key("relu2_out"), "{:?}", trt.tensors.keys());
    assert!(plan.tensors["relu2_out"].consumers.is_empty(), "every reader reads it quantized");
    assert!(trt.same_params.is_empty());
}

#[test]
fn pass_through_outputs_take_their_input_parameters_and_biases_become_int32() {
    let q = quantized(DIGITS, Preset::Cpu);
    // Flatten is no int8 kernel (float output in the registry), so fc1 quantizes its input with
    // its own range; a Reshape would share. Check sharing on a graph that has one.
    let view = calibr8_core::Graph::new(&q.model);
    for shared in q.tensors.values().filter(|t| {
        view.producer(&t.target.tensor)
            .is_some_and(|p| matches!(p.op_type.as_str(), "MaxPool" | "Reshape" | "Transpose"))
    }) {
        let input = &view.producer(&shared.target.tensor).unwrap().inputs[0];
        assert_eq!(shared.params, q.tensors[input].params, "{}", shared.target.tensor);
    }
    let qdq = qdq_model(&q).unwrap();
    let graph = qdq.graph();
    let conv1 = graph.node.iter().find(|n| n.name == "conv1").unwrap();
    assert_eq!(conv1.input[2], "conv1.bias_dequantized");
    let bias = graph.initializer.iter().find(|t| t.name == "conv1.bias_quantized").unwrap();
    assert_eq!(bias.data_type, 6, "int32");
    // b / (x.scale · w.scale[c]), zero point 0: check channel 0 against the float bias.
    let float_bias = OnnxModel::load(DIGITS).unwrap();
    let b = float_bias.graph().initializer.iter().find(|t| t.name == conv1_bias_name()).unwrap();
    let (b, _) = calibr8_core::graph::tensor_f32(b).unwrap();
    let scale = q.tensors["input"].params.scale[0] * q.tensors["conv1.weight"].params.scale[0];
    let q0 = i32::from_le_bytes(bias.raw_data[0..4].try_into().unwrap());
    assert_eq!(q0, (b[0] / scale).round() as i32);
    // The float bias nothing reads any more is gone.
    assert!(!graph.initializer.iter().any(|t| t.name == conv1_bias_name()));
    // TensorRT's export keeps biases float.
    let trt = qdq_model(&quantized(DIGITS, Preset::Tensorrt)).unwrap();
    let conv1 = trt.graph().node.iter().find(|n| n.name == "conv1").unwrap();
    assert_eq!(conv1.input[2], conv1_bias_name());
}

fn conv1_bias_name() -> String {
    let model = OnnxModel::load(DIGITS).unwrap();
    model.graph().node.iter().find(|n| n.name == "conv1").unwrap().input[2].clone()
}

#[test]
fn residual_adds_and_pooling_get_their_own_output_ranges() {
    let model = OnnxModel::load(RESNET).unwrap();
    let plan =
        QuantPlan::resolve(&model, &QuantConfig::default().with_preset(Preset::Cpu)).unwrap();
    let view = calibr8_core::Graph::new(&model);
    for node in
        view.nodes.iter().filter(|n| matches!(n.op_type.as_str(), "Add" | "GlobalAveragePool"))
    {
        // Its output, or the output of the Relu reading it alone, is quantized.
        let out = &node.outputs[0];
        let relu = view.consumers(out).find(|c| c.op_type == "Relu").map(|r| r.outputs[0].clone());
        let quantized = plan.tensors.contains_key(out)
            || relu.as_ref().is_some_and(|r| plan.tensors.contains_key(r));
        assert!(quantized, "{} ({}) output not quantized", node.name, node.op_type);
        assert_eq!(plan.node_precision[&node.name], calibr8_core::Precision::Int8);
    }
}

#[test]
fn reduce_range_weights_use_seven_bits() {
    let q = quantized(DIGITS, Preset::CpuAvx2);
    let w = &q.tensors["conv1.weight"].params;
    assert!(w.spec.reduce_range);
    assert_eq!((w.spec.qmin(), w.spec.qmax()), (-64, 64));
    let qdq = qdq_model(&q).unwrap();
    let int8 = qdq.graph().initializer.iter().find(|t| t.name == "conv1.weight.quantized").unwrap();
    // Every weight here was given the range [0, 2]: scale 2 / 64, codes within ±64.
    assert_eq!(w.scale[0], (2.0f64 / 64.0) as f32);
    let max = int8.raw_data.iter().map(|&b| (b as i8).unsigned_abs()).max().unwrap();
    assert!(max <= 64, "{max}");
    let full = quantized(DIGITS, Preset::Cpu);
    assert_eq!(full.tensors["conv1.weight"].params.spec.qmax(), 127);
}
