//! NNI's classic TensorRT speed-up scenario, ported to calibr8: ResNet18 on CIFAR-10-sized inputs
//! (3x32x32, 10 classes), batch 32, fp32 / fp16 / int8 engines and their latencies.
//!
//! ```sh
//! python3 examples/tensorrt_resnet18/make_resnet18.py      # model + calibration data (git-ignored)
//! cargo run --release -p calibr8-tensorrt --example tensorrt_resnet18
//! ```
//!
//! Steps: calibrate on the CPU with tract (`quantize_with`), write the artifacts (QDQ ONNX,
//! TensorRT calibration cache, NNI configs, ranges), plan the four TensorRT builds, then — when
//! TensorRT 10 and a GPU are present — build each engine, time it with CUDA events and compare
//! its top-1 with the fp32 engine. Without TensorRT it prints the plans and what to install, and
//! exits 0: only a real error (missing model, bad data, a failed build) exits non-zero.
//!
//! Options: `--model PATH` `--calib PATH` `--out DIR` `--method NAME` (default `entropy`,
//! TensorRT's EntropyCalibration2) `--runs N` (default 200).

use calibr8_core::compare::argmax_rows;
use calibr8_core::export::{write_artifacts, ArtifactOptions, TrtVersion};
use calibr8_core::TensorRole;
use calibr8_core::{
    quantize_with, Backend, CalibrationData, Engine, EngineOptions, Error, Lowering, NpySource,
    OnnxModel, Precision, QuantConfig, QuantizedModel, Result,
};
use calibr8_tensorrt::engine_file::{self, EngineHeader};
use calibr8_tensorrt::plan::{RangeOrigin, UnrangedReason};
use calibr8_tensorrt::{trt, BatchProfile, LoweringMode, TensorRtBackend, TrtEngine, TrtOptions};
use calibr8_tract::TractBackend;
use ndarray::ArrayD;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const BATCH: usize = 32;
/// The calibration cache of every range the dynamic-range plan sets.
const PLAN_CACHE: &str = "calibration.plan.cache";
const WARMUP: usize = 20;

struct Args {
    model: PathBuf,
    calib: PathBuf,
    out: PathBuf,
    method: String,
    config: Option<PathBuf>,
    runs: usize,
}

fn parse_args() -> Result<Args> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    let generated = root.join("target/examples");
    let mut args = Args {
        model: generated.join("resnet18.onnx"),
        calib: generated.join("resnet18_calib.npy"),
        out: generated.join("resnet18_out"),
        method: "entropy".into(),
        config: None,
        runs: 200,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value =
            || it.next().ok_or_else(|| Error::config(flag.clone(), "needs a value after it"));
        match flag.as_str() {
            "--model" => args.model = value()?.into(),
            "--calib" => args.calib = value()?.into(),
            "--out" => args.out = value()?.into(),
            "--method" => args.method = value()?,
            "--config" => args.config = Some(value()?.into()),
            "--runs" => {
                let v = value()?;
                args.runs = v
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| Error::config("--runs", format!("'{v}' is not a count")))?;
            }
            other => {
                return Err(Error::config(
                    other,
                    "unknown option; use --model, --calib, --out, --method, --config or --runs",
                ))
            }
        }
    }
    Ok(args)
}

/// The four engines of NNI's table (plus explicit Q/DQ, TensorRT 10's recommended int8 path).
struct Build {
    label: &'static str,
    quantized: bool,
    options: TrtOptions,
}

fn builds() -> Vec<Build> {
    let options = |precision, mode| TrtOptions {
        precision,
        mode,
        batch: BatchProfile::fixed(BATCH),
        ..TrtOptions::default()
    };
    vec![
        Build {
            label: "fp32",
            quantized: false,
            options: options(Precision::Fp32, LoweringMode::DynamicRange),
        },
        Build {
            label: "fp16",
            quantized: false,
            options: options(Precision::Fp16, LoweringMode::DynamicRange),
        },
        Build {
            label: "int8 dynamic range",
            quantized: true,
            options: options(Precision::Int8, LoweringMode::DynamicRange),
        },
        Build {
            label: "int8 explicit Q/DQ",
            quantized: true,
            options: options(Precision::Int8, LoweringMode::Explicit),
        },
    ]
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args = parse_args()?;
    if !args.model.exists() {
        let why = "does not exist; generate it first: python3 \
                   examples/tensorrt_resnet18/make_resnet18.py";
        return Err(Error::io(
            "reading",
            &args.model,
            std::io::Error::new(std::io::ErrorKind::NotFound, why),
        ));
    }
    let model = OnnxModel::load(&args.model)?;
    let data = NpySource::open(&args.calib, BATCH)?;
    let nodes = model.graph().node.len();
    let params: usize = model
        .graph()
        .initializer
        .iter()
        .map(|t| t.dims.iter().product::<i64>().max(0) as usize)
        .sum();
    println!(
        "model {}: {nodes} nodes, {:.2} M parameters; calibration data {} ({} batches of {BATCH})",
        shown(&args.model),
        params as f64 / 1e6,
        shown(&args.calib),
        data.num_batches().unwrap_or(0)
    );

    // 1. Calibrate on the CPU.
    let mut config = match &args.config {
        Some(path) => QuantConfig::load(path)?,
        None => QuantConfig::default(),
    };
    if args.config.is_none() || args.method != "entropy" {
        config.method = args.method.parse().map_err(|e: String| Error::config("--method", e))?;
    }
    let t = Instant::now();
    let quantized = quantize_with(&TractBackend, &model, &data, &config)?;
    let clipped = quantized.tensors.values().filter(|q| q.range.clipped_fraction > 0.01).count();
    let weights =
        quantized.tensors.values().filter(|q| q.target.role == TensorRole::Weight).count();
    println!(
        "calibrated {} activations and {weights} weights with '{}' on tract in \
         {:.1} s ({} clip more than 1% of values)",
        quantized.tensors.len() - weights,
        args.method,
        t.elapsed().as_secs_f64(),
        clipped
    );

    // 2. Artifacts. The cache header carries the installed TensorRT's version when there is one.
    let installed = trt::api().ok().map(|api| api.raw_version.max(0) as u32);
    let trt_version = installed.map(TrtVersion::from_number).unwrap_or_default();
    let written = write_artifacts(
        &quantized,
        &args.out,
        &ArtifactOptions { trt_version, ..ArtifactOptions::default() },
    )?;
    println!(
        "wrote {} files to {} (cache header TensorRT {trt_version}{}):",
        written.len(),
        shown(&args.out),
        if installed.is_some() {
            ", the installed version"
        } else {
            "; the CLI sets it with --trt-version"
        }
    );
    for path in &written {
        println!("  {}", shown(path));
    }

    // 3. CPU reference: tract fp32 vs the QDQ model (int8 simulated in float) on one batch.
    let first = first_batch(&data)?;
    cpu_reference(&model, &quantized, &first)?;

    // 4. TensorRT plans: what the lowering will do, decided without TensorRT.
    for b in builds().iter().filter(|b| b.quantized) {
        let backend = TensorRtBackend::new(b.options.clone());
        let plan = backend.plan(Lowering::Quantized(&quantized), &EngineOptions::default())?;
        print_plan(b.label, &plan, &quantized);
        if b.options.mode == LoweringMode::DynamicRange {
            // calibration.cache holds the calibrated activations only; trtexec needs every
            // range the plan sets to build the same engine.
            let path = args.out.join(PLAN_CACHE);
            let text = engine_file::calibration_cache_for(&plan, trt_version.header_number());
            calibr8_core::export::write_atomic(&path, text.as_bytes())?;
            println!("  wrote {} (every planned range, for trtexec --calib)", shown(&path));
        }
    }

    // 5. Engines and latencies, when TensorRT 10 and a GPU are here.
    let probe = TensorRtBackend::new(TrtOptions::default());
    if let Err(e) = probe.check() {
        println!("\nTensorRT engines skipped: {e}");
        println!(
            "Install TensorRT 10 (libnvinfer.so.10 and libnvonnxparser.so.10) with a CUDA 12 or 13 \
             driver, build with `--features shim` (TensorRT headers through TENSORRT_ROOT or \
             TENSORRT_INCLUDE_DIR), and run this example again for the latency table. Meanwhile \
             the artifacts above build the same engines with trtexec:"
        );
        print_trtexec(&args);
        return Ok(());
    }
    benchmark_all(&args, &model, &quantized, &first)
}

/// `path` relative to the working directory when it lies below it (shorter commands to copy).
fn shown(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let rel = cwd.as_deref().and_then(|cwd| path.strip_prefix(cwd).ok());
    rel.unwrap_or(path).display().to_string()
}

fn first_batch(data: &NpySource) -> Result<ArrayD<f32>> {
    let batch = data.batches().next().ok_or_else(|| Error::data(data.name(), "is empty"))??;
    let first = batch.into_values().into_iter().next();
    first.map(|v| v.into_f32()).ok_or_else(|| Error::data(data.name(), "has no input array"))
}

fn agreement(a: &[usize], b: &[usize]) -> f64 {
    let same = a.iter().zip(b).filter(|(x, y)| x == y).count();
    100.0 * same as f64 / a.len().max(1) as f64
}

fn cpu_reference(model: &OnnxModel, q: &QuantizedModel, batch: &ArrayD<f32>) -> Result<()> {
    let options = EngineOptions { batch: Some(BATCH), ..EngineOptions::default() };
    let mut fp32 = TractBackend.prepare(Lowering::Float(model), &options)?;
    let mut qdq = TractBackend.prepare(Lowering::Quantized(q), &options)?;
    let t = Instant::now();
    let reference = fp32.run_f32(vec![batch.clone()])?.swap_remove(0);
    let fp32_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let simulated = qdq.run_f32(vec![batch.clone()])?.swap_remove(0);
    let qdq_ms = t.elapsed().as_secs_f64() * 1e3;
    let (mut dot, mut rr, mut ss, mut noise) = (0f64, 0f64, 0f64, 0f64);
    for (&r, &s) in reference.iter().zip(simulated.iter()) {
        let (r, s) = (f64::from(r), f64::from(s));
        dot += r * s;
        rr += r * r;
        ss += s * s;
        noise += (r - s) * (r - s);
    }
    println!(
        "CPU reference (tract, one batch of {BATCH}): fp32 {fp32_ms:.0} ms, QDQ (int8 simulated in \
         float) {qdq_ms:.0} ms; logits cosine {:.5}, SQNR {:.1} dB, top-1 agreement {:.1}%",
        dot / (rr.sqrt() * ss.sqrt()).max(f64::MIN_POSITIVE),
        10.0 * (rr / noise.max(f64::MIN_POSITIVE)).log10(),
        agreement(&argmax_rows(&reference), &argmax_rows(&simulated))
    );
    Ok(())
}

fn print_plan(label: &str, plan: &calibr8_tensorrt::TrtPlan, q: &QuantizedModel) {
    let derived = plan.ranges.values().filter(|r| r.origin != RangeOrigin::Calibrated).count();
    println!(
        "\nTensorRT plan, {label}: parser reads the {:?} model; flags int8={} fp16={} \
         prefer_precision_constraints={} strongly_typed={}",
        plan.source,
        plan.flags.int8,
        plan.flags.fp16,
        plan.flags.prefer_precision_constraints,
        plan.flags.strongly_typed
    );
    if plan.flags.strongly_typed {
        println!(
            "  scales travel in the QDQ ONNX ({} activations as QuantizeLinear + \
             DequantizeLinear, {} weights as int8 initializers + DequantizeLinear); no \
             setDynamicRange calls",
            q.tensors.values().filter(|t| t.target.role == TensorRole::Activation).count(),
            q.tensors.values().filter(|t| t.target.role == TensorRole::Weight).count()
        );
    } else {
        println!(
            "  ranges set: {} ({} calibrated, {derived} derived through shape/max-preserving ops)",
            plan.ranges.len(),
            plan.ranges.len() - derived
        );
    }
    if !plan.fused.is_empty() {
        let examples: Vec<String> =
            plan.fused.iter().take(3).map(|(t, by)| format!("{t} -> {by}")).collect();
        println!(
            "  fused into Conv/Gemm (range taken at the end of the chain): {} tensors, e.g. {}",
            plan.fused.len(),
            examples.join(", ")
        );
    }
    if !plan.weights_by_tensorrt.is_empty() {
        println!(
            "  weights TensorRT quantizes itself (per channel): {}",
            plan.weights_by_tensorrt.len()
        );
    }
    for reason in [UnrangedReason::GraphOutput, UnrangedReason::NotCalibrated] {
        let list: Vec<&str> = plan
            .unranged
            .iter()
            .filter(|u| u.reason == reason)
            .map(|u| u.tensor.as_str())
            .collect();
        if !list.is_empty() {
            println!("  unranged ({reason:?}): {}", list.join(", "));
        }
    }
    if plan.unranged.is_empty() {
        println!("  unranged: none");
    }
    if plan.warnings().next().is_some() {
        println!(
            "  -> TensorRT leaves those tensors in float (or warns of a missing scale); give \
             them ranges with --config examples/tensorrt_resnet18/residual_adds.yaml"
        );
    }
    if plan.layers.is_empty() {
        println!("  precision constraints: none (every quantizable layer may run in int8)");
    }
    for l in &plan.layers {
        println!("  precision constraint: {} kept in {}", l.layer, l.precision);
    }
    for p in &plan.profile {
        println!("  profile {}: min {:?} opt {:?} max {:?}", p.input, p.min, p.opt, p.max);
    }
    for n in &plan.notes {
        println!("  note: {n}");
    }
}

fn print_trtexec(args: &Args) {
    let out = shown(&args.out);
    let model = shown(&args.model);
    let shapes = format!("--shapes=input:{BATCH}x3x32x32");
    println!("  trtexec --onnx={out}/model.qdq.onnx --stronglyTyped {shapes}");
    println!("  trtexec --onnx={model} --int8 --fp16 --calib={out}/{PLAN_CACHE} {shapes}");
    println!("  trtexec --onnx={model} --fp16 {shapes}");
    println!("  trtexec --onnx={model} {shapes}");
}

struct Row {
    label: &'static str,
    build_s: f64,
    compute_ms: f64,
    end_to_end_ms: f64,
    layers: String,
    agree: Option<f64>,
}

fn benchmark_all(
    args: &Args,
    model: &OnnxModel,
    q: &QuantizedModel,
    batch: &ArrayD<f32>,
) -> Result<()> {
    let mut rows = Vec::new();
    let mut reference: Option<Vec<usize>> = None;
    for b in builds() {
        let backend = TensorRtBackend::new(b.options.clone());
        let lowering = if b.quantized { Lowering::Quantized(q) } else { Lowering::Float(model) };
        let options = EngineOptions {
            float_precision: (!b.quantized).then_some(b.options.precision),
            ..EngineOptions::default()
        };
        let plan = backend.plan(lowering, &options)?;
        let t = Instant::now();
        let (bytes, report, version) = backend.build(&plan)?;
        let build_s = t.elapsed().as_secs_f64();
        let file = args.out.join(format!("resnet18_{}.engine", b.label.replace([' ', '/'], "_")));
        engine_file::save_engine(&file, &EngineHeader::new(version, b.label), &bytes)?;
        let mut engine = TrtEngine::from_plan(&bytes, backend.device, report)?;
        let layers = match engine.layers() {
            Ok(dump) => {
                let (int8, fp16, fp32, mixed, reformat) = dump.counts();
                format!("{int8}/{fp16}/{fp32}/{mixed}/{reformat}")
            }
            Err(_) => "n/a".into(),
        };
        let classes = argmax_rows(&engine.run_f32(vec![batch.clone()])?.swap_remove(0));
        let agree = reference.as_ref().map(|r| agreement(r, &classes));
        if reference.is_none() {
            reference = Some(classes);
        }
        let bench = engine.benchmark(std::slice::from_ref(batch), WARMUP, args.runs)?;
        println!(
            "{}: built in {build_s:.1} s, saved {}; compute {}",
            b.label,
            shown(&file),
            bench.compute
        );
        rows.push(Row {
            label: b.label,
            build_s,
            compute_ms: bench.compute.median_ms,
            end_to_end_ms: bench.end_to_end.median_ms,
            layers,
            agree,
        });
    }
    let base = rows.first().map(|r| r.compute_ms).unwrap_or(f64::NAN);
    println!(
        "\nResNet18, batch {BATCH}, 3x32x32, median of {} runs after {WARMUP} warm-up (CUDA events)",
        args.runs
    );
    println!(
        "| engine | build s | GPU compute ms | with copies ms | images/s | speed-up vs fp32 | \
         layers int8/fp16/fp32/mixed/reformat | top-1 = fp32 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {:.1} | {:.3} | {:.3} | {:.0} | {:.2}x | {} | {} |",
            r.label,
            r.build_s,
            r.compute_ms,
            r.end_to_end_ms,
            BATCH as f64 / (r.compute_ms / 1e3),
            base / r.compute_ms,
            r.layers,
            r.agree.map_or("reference".into(), |a| format!("{a:.1}%"))
        );
    }
    Ok(())
}
