//! Pooling layers quantized in TensorRT's dynamic-range mode: an average never exceeds its
//! largest term, so AveragePool / GlobalAveragePool carry their input's range forward (one line
//! in core/src/ops/pool.rs), and the pooled output needs no calibration of its own.

use calibr8_calibration::{Method, TensorRange};
use calibr8_core::{ConfigRule, OnnxModel, QuantConfig, QuantPlan, QuantizedModel, Target};
use calibr8_tensorrt::plan::RangeOrigin;
use calibr8_tensorrt::{TrtOptions, TrtPlan};

const RESNET: &str = "../../tests/data/resnet_tiny.onnx";

#[test]
fn global_average_pool_output_takes_its_input_range() {
    // Quantize only the input of the GlobalAveragePool `gap` (block2_out -> gap_out -> Flatten).
    let config = QuantConfig {
        config_list: vec![ConfigRule {
            op_types: vec!["GlobalAveragePool".into()],
            target_names: vec![Target::Input],
            ..ConfigRule::default()
        }],
        ..QuantConfig::default()
    };
    let model = OnnxModel::load(RESNET).expect("model loads");
    let plan = QuantPlan::resolve(&model, &config).expect("plan resolves");
    assert_eq!(plan.tensors.keys().collect::<Vec<_>>(), ["block2_out"]);
    let ranges = [(
        "block2_out".to_string(),
        TensorRange::per_tensor("block2_out", Method::MinMax, 0.0, 3.5),
    )]
    .into_iter()
    .collect();
    let q = QuantizedModel::new(model, plan, ranges, config).expect("quantized model");

    let trt =
        TrtPlan::new(calibr8_core::Lowering::Quantized(&q), &TrtOptions::default()).expect("plan");
    let gap = trt.ranges.get("gap_out").expect("gap_out is ranged");
    assert_eq!(gap.amax, 3.5);
    assert_eq!(
        gap.origin,
        RangeOrigin::Derived {
            from: "block2_out".into(),
            node: "gap".into(),
            op_type: "GlobalAveragePool".into()
        }
    );
    // ... and Flatten passes it on; nothing is left for the user to calibrate.
    assert_eq!(trt.ranges.get("flatten_out").map(|r| r.amax), Some(3.5));
    assert_eq!(trt.warnings().count(), 0, "{:?}", trt.warnings().collect::<Vec<_>>());
}
