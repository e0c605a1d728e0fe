//! Fake TensorRT libraries, compiled at test time with the C compiler the `cc` crate finds.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `getInferLibVersion` returning `version`.
pub fn version_fn(version: i32) -> String {
    format!("int getInferLibVersion(void) {{ return {version}; }}\n")
}

/// TensorRT 10's two factories, recording what they were given and returning null (no GPU here).
pub const FACTORIES: &str = r#"
static void* last_logger;
static int last_version = -1;
void* createInferBuilder_INTERNAL(void* logger, int version) {
    last_logger = logger; last_version = version; return 0;
}
void* createInferRuntime_INTERNAL(void* logger, int version) {
    last_logger = logger; last_version = version; return 0;
}
int fake_last_version(void) { return last_version; }
void* fake_last_logger(void) { return last_logger; }
"#;

/// The ONNX parser's factory, returning null.
pub const PARSER: &str = r#"
void* createNvOnnxParser_INTERNAL(void* network, void* logger, int version) {
    (void)network; (void)logger; (void)version; return 0;
}
"#;

/// Compiles `source` into the shared library `dir/file_name`.
pub fn shared_library(dir: &Path, file_name: &str, source: &str) -> PathBuf {
    shared_library_with(dir, file_name, source, &[])
}

/// [`shared_library`] with extra compiler/linker arguments (`-Wl,-soname,…`, `-ldl`).
pub fn shared_library_with(dir: &Path, file_name: &str, source: &str, extra: &[&str]) -> PathBuf {
    let src = dir.join(format!("{file_name}.c"));
    std::fs::write(&src, source).expect("write the fake library's source");
    let out = dir.join(file_name);
    let target = env!("CALIBR8_TRT_TARGET");
    let compiler = cc::Build::new()
        .target(target)
        .host(target)
        .opt_level(0)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .get_compiler();
    let status = compiler
        .to_command()
        .args(["-shared", "-fPIC", "-o"])
        .arg(&out)
        .arg(&src)
        .args(extra)
        .status()
        .expect("run the C compiler");
    assert!(status.success(), "compiling {} failed", src.display());
    out
}
