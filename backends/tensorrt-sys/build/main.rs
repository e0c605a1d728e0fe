//! Build script of calibr8-tensorrt-sys.
//!
//! With the `shim` feature and TensorRT 10 + CUDA headers found, compiles `shim/` with the `cc`
//! crate (nothing links against TensorRT: the library is opened at run time). Otherwise sets
//! `cfg(calibr8_trt_stub)`, and the Rust side compiles stub bodies that return "built without
//! TensorRT headers", so `cargo check --workspace` works anywhere.

mod vars;

use std::path::{Path, PathBuf};

/// Where the headers were found.
struct Headers {
    tensorrt: PathBuf,
    cuda: PathBuf,
}

fn main() {
    println!("cargo:rerun-if-changed=build");
    println!("cargo:rerun-if-changed=shim");
    println!("cargo:rustc-check-cfg=cfg(calibr8_trt_stub)");
    if let Some(target) = vars::var(vars::TARGET) {
        println!("cargo:rustc-env=CALIBR8_TRT_TARGET={}", target.to_string_lossy());
    }

    let found = if vars::var(vars::FEATURE_SHIM).is_some() {
        find_headers()
    } else {
        Err("the cargo feature `shim` of calibr8-tensorrt-sys is off".to_owned())
    };
    match found {
        Ok(headers) => {
            compile_shim(&headers);
            println!("cargo:shim=1");
        }
        Err(reason) => {
            if vars::flag(vars::REQUIRE_SHIM) {
                panic!(
                    "{} is set but the TensorRT shim cannot be built: {reason}",
                    vars::REQUIRE_SHIM
                );
            }
            if vars::var(vars::FEATURE_SHIM).is_some() {
                println!("cargo:warning=calibr8-tensorrt-sys: building the stub: {reason}");
            }
            println!("cargo:rustc-cfg=calibr8_trt_stub");
            println!("cargo:rustc-env=CALIBR8_TRT_STUB_REASON={reason}");
            println!("cargo:shim=0");
        }
    }
}

/// TensorRT headers from `TENSORRT_INCLUDE_DIR`, else `TENSORRT_ROOT/include`, else the system
/// folders NVIDIA's packages install to; CUDA's from `CUDA_PATH/include`, else `/usr/local/cuda`.
fn find_headers() -> Result<Headers, String> {
    let trt_candidates: Vec<PathBuf> =
        match (vars::path(vars::TENSORRT_INCLUDE_DIR), vars::path(vars::TENSORRT_ROOT)) {
            // An explicit setting is the only place looked at: a wrong one must not be papered over.
            (Some(dir), _) => vec![dir],
            (None, Some(root)) => vec![root.join("include")],
            (None, None) => vec![
                PathBuf::from("/usr/include/x86_64-linux-gnu"),
                PathBuf::from("/usr/include/aarch64-linux-gnu"),
                PathBuf::from("/usr/include"),
            ],
        };
    let tensorrt = first_with(&trt_candidates, "NvInfer.h")?;
    if !tensorrt.join("NvOnnxParser.h").is_file() {
        return Err(format!("NvOnnxParser.h is not beside NvInfer.h in {}", tensorrt.display()));
    }
    let cuda_candidates: Vec<PathBuf> = match vars::path(vars::CUDA_PATH) {
        Some(root) => vec![root.join("include")],
        None => vec![PathBuf::from("/usr/local/cuda/include")],
    };
    let cuda = first_with(&cuda_candidates, "cuda_runtime_api.h")?;
    Ok(Headers { tensorrt, cuda })
}

fn first_with(dirs: &[PathBuf], header: &str) -> Result<PathBuf, String> {
    dirs.iter().find(|dir| dir.join(header).is_file()).cloned().ok_or_else(|| {
        let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        format!("{header} not found (looked in: {})", looked.join(", "))
    })
}

fn compile_shim(headers: &Headers) {
    let shim = Path::new("shim");
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++17")
        .file(shim.join("calibr8_trt_shim.cpp"))
        .include(shim)
        // Flags are spelled out rather than left to cc's defaults, so the check script and the
        // crate build agree.
        .warnings(false)
        .extra_warnings(false);
    if build.get_compiler().is_like_msvc() {
        build.include(&headers.tensorrt).include(&headers.cuda).flag("/W4").flag("/WX");
    } else {
        // -isystem: TensorRT's and CUDA's headers trip -Wextra (unused parameters) and use their
        // own deprecated names; only our file is held to -Werror. Our deprecated calls are fenced
        // with pragmas; a header newer than the ones checked may deprecate more, which must warn,
        // not break users' builds.
        build
            .flag("-isystem")
            .flag(headers.tensorrt.to_string_lossy().as_ref())
            .flag("-isystem")
            .flag(headers.cuda.to_string_lossy().as_ref())
            .flag("-Wall")
            .flag("-Wextra")
            .flag("-Werror")
            .flag("-Wno-error=deprecated-declarations");
    }
    build.compile("calibr8_trt_shim");
    println!(
        "cargo:include={}",
        std::env::current_dir()
            .map(|d| d.join(shim))
            .unwrap_or_else(|_| shim.to_path_buf())
            .display()
    );
}
