//! `calibr8 merge`: merge shard states (`calibr8 calibrate --state`) into the artifacts
//! `quantize` writes, bit for bit those of a two-pass run over all the shards' data; or, with
//! `--out FILE.c8state`, into one state (the range states of every shard, or a partial merge).

use crate::output::Output;
use crate::summary;
use anyhow::Context;
use calibr8::core::shards::ShardState;
use calibr8::export::write_artifacts;
use calibr8::OnnxModel;
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `calibr8 merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' state files (any order; the result is the same).
    #[arg(required = true, value_name = "STATE")]
    pub states: Vec<PathBuf>,

    /// Output folder for the artifacts (replaced as a whole, as `quantize --out`), or a file
    /// ending in `.c8state` for the merged state.
    #[arg(long, short, value_name = "DIR|FILE", help_heading = "Output")]
    pub out: PathBuf,

    /// The model [default: the path the states recorded]; it must be the model the shards
    /// observed (checked by its hash).
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub model: Option<PathBuf>,

    #[command(flatten)]
    pub cache: crate::args::CacheArgs,
}

/// `calibr8 merge --out FILE.c8state --format json` (docs/cli-json.md).
#[derive(Serialize)]
struct MergedStateJson {
    state: String,
    kind: &'static str,
    merged: usize,
    samples: u64,
    tensors: usize,
}

pub fn run(args: MergeArgs, out: Output) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let states = args.states.iter().map(ShardState::read).collect::<Result<Vec<_>, _>>()?;
    let merged = ShardState::merge(&states)?;
    if args.out.extension().is_some_and(|e| e == "c8state") {
        merged.write(&args.out)?;
        let json = MergedStateJson {
            state: args.out.display().to_string(),
            kind: merged.kind(),
            merged: states.len(),
            samples: merged.samples(),
            tensors: merged.tensors.len(),
        };
        out.result(
            || {
                format!(
                    "merged {} states ({} samples) into {} state {}\n",
                    json.merged, json.samples, json.kind, json.state
                )
            },
            &json,
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.out.is_file() {
        anyhow::bail!(
            "--out {} is a file; give a folder for the artifacts, or a .c8state file",
            args.out.display()
        );
    }
    let model_path = args.model.clone().unwrap_or_else(|| PathBuf::from(&merged.model.path));
    let model = OnnxModel::load(&model_path).with_context(|| {
        format!(
            "loading the model the states were observed on; pass --model where {} is on this \
             machine",
            merged.model.path
        )
    })?;
    let quantized = merged
        .quantize(&model)
        .with_context(|| format!("finishing {} states of {}", states.len(), model.origin))?;
    let written = write_artifacts(&quantized, &args.out, &args.cache.artifact_options())
        .with_context(|| format!("writing artifacts to {}", args.out.display()))?;
    let elapsed = started.elapsed();
    for warning in summary::clipping_warnings(&quantized) {
        out.log(format!("warning: {warning}"));
    }
    let samples = merged.samples() as usize;
    let data: Vec<&str> = merged.sources.iter().map(|s| s.data.as_str()).collect();
    let data = data.join(", ");
    out.result(
        || summary::text(&quantized, samples, elapsed, &written),
        &summary::json(&quantized, &model, Path::new(&data), samples, elapsed, &written),
    )?;
    Ok(ExitCode::SUCCESS)
}
