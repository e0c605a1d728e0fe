//! The first run on a TensorRT machine, in one paste: `scripts/trt-first-run.sh` runs this.
//!
//! ```sh
//! TENSORRT_ROOT=/opt/TensorRT-10.x CUDA_PATH=/usr/local/cuda scripts/trt-first-run.sh
//! ```
//!
//! For the digits CNN and ResNet18 (both calibrated here, on the CPU, with tract) and for both
//! int8 lowerings — implicit (`setDynamicRange`, the float ONNX) and explicit (the Q/DQ ONNX in a
//! strongly typed network) — it:
//! 1. prints the environment: TensorRT library, version and headers, the builder resource
//!    library, the plugin library, the GPU and the driver's symbols;
//! 2. plans, builds and runs the engine, and prints the lowering report (ranges set, carried,
//!    weight constants, tensors left without a range, precision constraints);
//! 3. prints the per-layer precision dump of the engine (TensorRT's engine inspector);
//! 4. compares the engine's logits with tract running the same int8 model (top-1 agreement,
//!    SQNR, cosine) and times it with CUDA events;
//! 5. builds a second engine with every quantized activation and int8-node output marked as an
//!    engine output, and compares each with tract, layer by layer;
//! 6. writes the calibration cache of the implicit build (every `setDynamicRange` made) and the
//!    `trtexec` line that rebuilds that engine.
//!
//! Every step prints `PASS` or `FAIL <why>` and the run goes on, so one log says everything;
//! the exit status is 1 when any step failed. Options: `--batch N` (default 32), `--out DIR`
//! (default `target/trt-first-run`), `--runs N` (timed runs, default 50).

use calibr8_core::compare::{argmax_rows, MetricAccumulator, Metrics};
use calibr8_core::{
    quantize_with, Backend, CalibrationData, Engine, EngineOptions, Error, Graph, Lowering,
    NpySource, OnnxModel, Precision, QuantConfig, QuantizedModel, Result, TensorRole,
};
use calibr8_tensorrt::engine_file::calibration_cache_for_report;
use calibr8_tensorrt::lower::LoweringReport;
use calibr8_tensorrt::{device, trt, BatchProfile, LoweringMode, TensorRtBackend, TrtEngine};
use calibr8_tensorrt::{TrtOptions, TrtPlan};
use calibr8_tensorrt_sys::loader;
use calibr8_tract::TractBackend;
use ndarray::ArrayD;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

struct Args {
    batch: usize,
    out: PathBuf,
    runs: usize,
}

fn parse_args(root: &Path) -> Result<Args> {
    let mut args = Args { batch: 32, out: root.join("target/trt-first-run"), runs: 50 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value =
            || it.next().ok_or_else(|| Error::config(flag.clone(), "needs a value after it"));
        let count = |v: String, name: &str| {
            v.parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| Error::config(name.to_string(), format!("'{v}' is not a count")))
        };
        match flag.as_str() {
            "--batch" => args.batch = count(value()?, "--batch")?,
            "--runs" => args.runs = count(value()?, "--runs")?,
            "--out" => args.out = value()?.into(),
            other => {
                return Err(Error::config(other, "unknown option; use --batch, --out or --runs"))
            }
        }
    }
    Ok(args)
}

/// PASS/FAIL lines and their count.
#[derive(Default)]
struct Checklist {
    failed: Vec<String>,
    passed: usize,
}

impl Checklist {
    fn step<T>(&mut self, what: &str, result: Result<T>) -> Option<T> {
        match result {
            Ok(v) => {
                println!("PASS {what}");
                self.passed += 1;
                Some(v)
            }
            Err(e) => {
                println!("FAIL {what}: {e}");
                self.failed.push(format!("{what}: {e}"));
                None
            }
        }
    }
}

/// One model of the checklist.
struct Case {
    name: &'static str,
    model: PathBuf,
    calib: PathBuf,
}

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    let args = match parse_args(&root) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut list = Checklist::default();
    println!("== calibr8 TensorRT first run (calibr8 {})", env!("CARGO_PKG_VERSION"));
    let ready = environment(&mut list);
    let cases = [
        Case {
            name: "digits",
            model: root.join("examples/digits/digits_cnn.onnx"),
            calib: root.join("examples/digits/calib.npy"),
        },
        Case {
            name: "resnet18",
            model: root.join("target/examples/resnet18.onnx"),
            calib: root.join("target/examples/resnet18_calib.npy"),
        },
    ];
    if ready {
        for case in &cases {
            run_case(case, &args, &mut list);
        }
    }
    println!("\n== summary: {} passed, {} failed", list.passed, list.failed.len());
    for f in &list.failed {
        println!("  FAIL {f}");
    }
    if list.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Step 1: what is installed. False when nothing further can run.
fn environment(list: &mut Checklist) -> bool {
    println!("\n== environment");
    println!("shim compiled in: {}", calibr8_tensorrt_sys::SHIM_AVAILABLE);
    match loader::headers_version() {
        Some(v) => println!("shim headers: TensorRT {v}"),
        None => println!("shim headers: none (stub build: rebuild with --features shim)"),
    }
    let Some(api) = list.step("load TensorRT", trt::api()) else {
        return false;
    };
    println!(
        "libnvinfer: {} (TensorRT {}, raw {})",
        api.path.display(),
        api.version,
        api.raw_version
    );
    match api.onnx_parser() {
        Ok(p) => println!("ONNX parser: {}", p.path.display()),
        Err(e) => println!("ONNX parser: {e}"),
    }
    match api.plugins() {
        Ok(p) => println!("plugins: {}", p.path.display()),
        Err(e) => println!("plugins: not loaded ({e})"),
    }
    println!("builder resource: {:?}", api.preload_builder_resource());
    let gpu = device::cuda_available()
        .map_err(|why| Error::backend(calibr8_tensorrt::BACKEND, why))
        .and_then(|()| device::Device::new(0))
        .and_then(|d| d.name());
    match list.step("CUDA driver (symbols for CUDA 12.0+) and GPU 0", gpu) {
        Some(name) => {
            println!("GPU 0: {name}");
            true
        }
        None => false,
    }
}

fn run_case(case: &Case, args: &Args, list: &mut Checklist) {
    println!("\n== {}: {}", case.name, case.model.display());
    let prepared = list.step(&format!("{}: calibrate on tract", case.name), calibrate(case, args));
    let Some((q, batch)) = prepared else {
        return;
    };
    let capture = comparable_tensors(&q);
    let reference = list.step(
        &format!("{}: tract reference run of the int8 (QDQ) model", case.name),
        tract_run(&q, &batch, &capture, args.batch),
    );
    let Some(reference) = reference else {
        return;
    };
    for mode in [LoweringMode::DynamicRange, LoweringMode::Explicit] {
        let label = format!("{} {}", case.name, mode_name(mode));
        println!("\n-- {label}");
        let options = TrtOptions {
            mode,
            precision: Precision::Int8,
            batch: BatchProfile::fixed(args.batch),
            ..TrtOptions::default()
        };
        let backend = TensorRtBackend::new(options);
        let built = list.step(
            &format!("{label}: plan, build and load the engine"),
            build(&backend, &q, &[], args),
        );
        if let Some((plan, mut engine, report)) = built {
            print!("{}", plan.summary());
            print_report(&report);
            if mode == LoweringMode::DynamicRange {
                list.step(
                    &format!("{label}: calibration cache of every range set"),
                    write_cache(case, args, &report),
                );
            }
            list.step(
                &format!("{label}: per-layer precision dump"),
                engine.layers().map(|dump| print!("{}", dump.table())),
            );
            list.step(
                &format!("{label}: logits against tract"),
                run_and_compare(&mut engine, &batch, &reference, 1),
            );
            list.step(
                &format!("{label}: CUDA-event timing"),
                engine
                    .benchmark(std::slice::from_ref(&batch), 10, args.runs)
                    .map(|b| println!("compute {}\nwith copies {}", b.compute, b.end_to_end)),
            );
        }
        list.step(
            &format!("{label}: layer by layer against tract ({} tensors)", capture.len()),
            build(&backend, &q, &capture, args).and_then(|(_, mut engine, _)| {
                run_and_compare(&mut engine, &batch, &reference, reference.len())
            }),
        );
    }
}

fn mode_name(mode: LoweringMode) -> &'static str {
    match mode {
        LoweringMode::DynamicRange => "implicit (setDynamicRange)",
        LoweringMode::Explicit => "explicit (Q/DQ)",
    }
}

/// Calibrates with tract and returns the model and one batch to run.
fn calibrate(case: &Case, args: &Args) -> Result<(QuantizedModel, ArrayD<f32>)> {
    if !case.model.exists() {
        return Err(Error::config(
            "model",
            format!(
                "{} does not exist; generate it with python3 \
                 examples/tensorrt_resnet18/make_resnet18.py",
                case.model.display()
            ),
        ));
    }
    let model = OnnxModel::load(&case.model)?;
    let data = NpySource::open(&case.calib, args.batch)?;
    let t = Instant::now();
    let q = quantize_with(&TractBackend, &model, &data, &QuantConfig::default())?;
    println!("calibrated {} tensors in {:.1} s", q.tensors.len(), t.elapsed().as_secs_f64());
    let batch = data
        .batches()
        .next()
        .ok_or_else(|| Error::data(data.name(), "is empty"))??
        .into_iter()
        .next()
        .ok_or_else(|| Error::data(data.name(), "has no input array"))?
        .1
        .into_f32();
    if batch.shape().first() != Some(&args.batch) {
        return Err(Error::data(
            data.name(),
            format!("the first batch has shape {:?}, not batch {}", batch.shape(), args.batch),
        ));
    }
    Ok((q, batch))
}

/// Quantized activations (graph inputs aside, which both runs share) and int8 node outputs, in
/// graph order: the tensors worth comparing between engines.
fn comparable_tensors(q: &QuantizedModel) -> Vec<String> {
    let graph = Graph::new(&q.model);
    let inputs: Vec<String> = q.model.inputs().into_iter().map(|i| i.name).collect();
    let outputs: Vec<String> = q.model.outputs().into_iter().map(|o| o.name).collect();
    let mut out: Vec<String> = Vec::new();
    for node in &graph.nodes {
        let int8 = q.node_precision.get(&node.name) == Some(&Precision::Int8);
        for t in &node.outputs {
            let quantized =
                q.tensors.get(t).is_some_and(|t| t.target.role == TensorRole::Activation);
            if (quantized || int8)
                && !inputs.contains(t)
                && !outputs.contains(t)
                && !out.contains(t)
            {
                out.push(t.clone());
            }
        }
    }
    out
}

/// tract running the QDQ model: model outputs, then `capture`.
fn tract_run(
    q: &QuantizedModel,
    batch: &ArrayD<f32>,
    capture: &[String],
    size: usize,
) -> Result<Vec<(String, ArrayD<f32>)>> {
    let options =
        EngineOptions { capture: capture.to_vec(), batch: Some(size), ..EngineOptions::default() };
    let mut engine = TractBackend.prepare(Lowering::Quantized(q), &options)?;
    let names = engine.output_names().to_vec();
    Ok(names.into_iter().zip(engine.run_f32(vec![batch.clone()])?).collect())
}

fn build(
    backend: &TensorRtBackend,
    q: &QuantizedModel,
    capture: &[String],
    args: &Args,
) -> Result<(TrtPlan, TrtEngine, LoweringReport)> {
    let options = EngineOptions {
        capture: capture.to_vec(),
        batch: Some(args.batch),
        ..EngineOptions::default()
    };
    let plan = backend.plan(Lowering::Quantized(q), &options)?;
    let t = Instant::now();
    let (bytes, report, _) = backend.build(&plan)?;
    println!("built in {:.1} s ({} bytes)", t.elapsed().as_secs_f64(), bytes.len());
    let mut engine = TrtEngine::from_plan(&bytes, backend.device, report.clone())?;
    let order: Vec<String> =
        q.model.outputs().into_iter().map(|o| o.name).chain(capture.iter().cloned()).collect();
    engine.order_outputs(&order)?;
    Ok((plan, engine, report))
}

fn print_report(r: &LoweringReport) {
    println!(
        "lowering: {} ranges set ({} carried through TensorRT's own layers, {} weight constants \
         of matrix multiplies)",
        r.ranges_set,
        r.ranges_carried.len(),
        r.constant_ranges.len()
    );
    let list = |what: &str, items: &[String]| {
        if !items.is_empty() {
            println!("  {what} ({}): {}", items.len(), items.join(", "));
        }
    };
    list("planned ranges not in the network", &r.ranges_not_in_network);
    list("float tensors without a range", &r.network_unranged);
    list("fused, no range needed", &r.fused_unranged);
    list("constraints matching no layer", &r.constraints_unmatched);
    for (node, layers) in &r.constrained {
        println!("  constraint {node} -> layers {}", layers.join(", "));
    }
}

fn write_cache(case: &Case, args: &Args, report: &LoweringReport) -> Result<()> {
    let api = trt::api()?;
    let raw = api.raw_version.max(0) as u32;
    let path = args.out.join(format!("{}.calibration.cache", case.name));
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io("creating", &args.out, e))?;
    calibr8_core::export::write_atomic(
        &path,
        calibration_cache_for_report(report, raw).as_bytes(),
    )?;
    println!(
        "wrote {} ({} ranges); the same engine with trtexec:\n  trtexec --onnx={} --int8 --fp16 \
         --calib={} --shapes=<input>:{}x...",
        path.display(),
        report.ranges.len(),
        case.model.display(),
        path.display(),
        args.batch
    );
    Ok(())
}

/// Runs `engine` and compares its first `count` outputs with tract's, by name; fails when the
/// logits' top-1 agreement is below 90% (a broken lowering, not quantization noise).
fn run_and_compare(
    engine: &mut TrtEngine,
    batch: &ArrayD<f32>,
    reference: &[(String, ArrayD<f32>)],
    count: usize,
) -> Result<()> {
    let names = engine.output_names().to_vec();
    let outputs = engine.run_f32(vec![batch.clone()])?;
    println!(
        "{:<32} {:>9} {:>10} {:>12} {:>8}",
        "tensor", "SQNR dB", "cosine", "max |diff|", "top-1"
    );
    let mut worst_top1 = 100.0f64;
    for (name, got) in names.iter().zip(&outputs).take(count) {
        let (_, want) = reference.iter().find(|(n, _)| n == name).ok_or_else(|| {
            Error::backend(calibr8_tensorrt::BACKEND, format!("tract did not return '{name}'"))
        })?;
        let top1 = want.ndim() == 2;
        let mut acc = MetricAccumulator::new(top1);
        acc.add(want, got, None)?;
        let m: Metrics = acc.finish();
        let agree = if top1 {
            let (a, b) = (argmax_rows(want), argmax_rows(got));
            let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
            let pct = 100.0 * same as f64 / a.len().max(1) as f64;
            worst_top1 = worst_top1.min(pct);
            format!("{pct:.1}%")
        } else {
            String::new()
        };
        println!(
            "{:<32} {:>9} {:>10.6} {:>12.5} {:>8}",
            name,
            m.sqnr_db.map_or("inf".into(), |s| format!("{s:.2}")),
            m.cosine,
            m.max_abs_error,
            agree
        );
    }
    if worst_top1 < 90.0 {
        return Err(Error::backend(
            calibr8_tensorrt::BACKEND,
            format!("top-1 agreement with tract is {worst_top1:.1}%"),
        ));
    }
    Ok(())
}
