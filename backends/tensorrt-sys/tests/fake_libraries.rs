//! The loader against fake `libnvinfer.so.10` / `libnvonnxparser.so.10` built by the test:
//! wrong version, missing symbol, and a complete one whose factories reach the shim.
#![cfg(target_os = "linux")]

mod common;

use calibr8_tensorrt_sys::loader::{
    headers_version, Api, BuilderResource, LoadError, TensorRtVersion, NVINFER_LIB,
    ONNX_PARSER_LIB, PLUGIN_LIB,
};
use common::{shared_library, shared_library_with, version_fn, FACTORIES, PARSER};

#[test]
fn tensorrt_8_is_a_bad_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = shared_library(dir.path(), NVINFER_LIB, &(version_fn(8601) + FACTORIES));
    let err = Api::load_from(Some(&lib), None).expect_err("TensorRT 8 must be refused");
    assert_eq!(
        err,
        LoadError::BadVersion {
            found: TensorRtVersion { major: 8, minor: 6, patch: 1 },
            required: 10,
            path: lib.clone(),
        }
    );
    let message = err.to_string();
    assert!(message.contains("is TensorRT 8.6.1, calibr8 needs TensorRT 10.x"), "{message}");
    assert!(
        message.ends_with("or set CALIBR8_TENSORRT_LIB=/path/to/libnvinfer.so.10"),
        "{message}"
    );
}

#[test]
fn a_library_without_the_runtime_factory_is_missing_a_symbol() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = version_fn(101_600)
        + "void* createInferBuilder_INTERNAL(void* l, int v) { (void)l; (void)v; return 0; }\n";
    let lib = shared_library(dir.path(), NVINFER_LIB, &source);
    let err = Api::load_from(Some(&lib), None).expect_err("symbol missing");
    assert_eq!(
        err,
        LoadError::MissingSymbol {
            symbol: "createInferRuntime_INTERNAL",
            path: lib.clone(),
            library: NVINFER_LIB,
        }
    );
    let message = err.to_string();
    assert!(message.contains("does not export `createInferRuntime_INTERNAL`"), "{message}");
    assert!(message.ends_with("/path/to/libnvinfer.so.10"), "{message}");
}

#[test]
fn a_library_without_a_version_is_missing_get_infer_lib_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = shared_library(dir.path(), NVINFER_LIB, FACTORIES);
    let err = Api::load_from(Some(&lib), None).expect_err("symbol missing");
    assert!(
        matches!(&err, LoadError::MissingSymbol { symbol: "getInferLibVersion", .. }),
        "{err:?}"
    );
}

#[test]
fn a_complete_tensorrt_10_loads_with_the_parser_beside_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = shared_library(dir.path(), NVINFER_LIB, &(version_fn(101_601) + FACTORIES));
    let parser = shared_library(dir.path(), ONNX_PARSER_LIB, PARSER);
    let api = Api::load_from(Some(&lib), None).expect("a complete fake TensorRT 10 loads");
    assert_eq!(api.path, lib);
    assert_eq!(api.version.to_string(), "10.16.1");
    assert_eq!(api.raw_version, 101_601);
    // SAFETY: the fake's getInferLibVersion takes nothing and returns a constant.
    assert_eq!(unsafe { (api.get_infer_lib_version)() }, 101_601);
    assert_eq!(api.onnx_parser().expect("parser beside libnvinfer").path, parser);
}

#[test]
fn a_missing_parser_is_reported_only_when_asked_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = shared_library(dir.path(), NVINFER_LIB, &(version_fn(101_600) + FACTORIES));
    let nowhere = dir.path().join("no-such-dir").join(ONNX_PARSER_LIB);
    let api = Api::load_from(Some(&lib), Some(&nowhere)).expect("libnvinfer alone loads");
    let err = api.onnx_parser().expect_err("no parser there");
    let LoadError::NotFound { library, tried } = &err else {
        panic!("expected NotFound, got {err:?}");
    };
    assert_eq!(*library, ONNX_PARSER_LIB);
    assert_eq!(tried.len(), 1);
    assert_eq!(tried[0].path, nowhere);
    assert!(
        err.to_string().ends_with(
            "Install TensorRT 10's ONNX parser (libnvonnxparser.so.10), or set \
             CALIBR8_TENSORRT_ONNX_PARSER_LIB=/path/to/libnvonnxparser.so.10"
        ),
        "{err}"
    );
}

#[test]
fn a_parser_without_its_factory_is_missing_a_symbol() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = shared_library(dir.path(), NVINFER_LIB, &(version_fn(101_600) + FACTORIES));
    let parser = shared_library(dir.path(), ONNX_PARSER_LIB, "int unrelated(void) { return 0; }\n");
    let api = Api::load_from(Some(&lib), None).expect("libnvinfer alone loads");
    assert_eq!(
        api.onnx_parser().expect_err("factory missing"),
        LoadError::MissingSymbol {
            symbol: "createNvOnnxParser_INTERNAL",
            path: parser,
            library: ONNX_PARSER_LIB,
        }
    );
}

/// The factories travel from the loader through the shim: the shim hands them its logger and
/// the header version, and turns their null into an error. (Stub build: the stub error.)
#[test]
fn the_shim_calls_the_loaded_factory() {
    use calibr8_tensorrt_sys as sys;
    use std::ffi::{c_char, c_void, CStr};
    use std::ptr;

    let dir = tempfile::tempdir().expect("tempdir");
    let lib = shared_library(dir.path(), NVINFER_LIB, &(version_fn(101_600) + FACTORIES));
    let api = Api::load_from(Some(&lib), None).expect("fake loads");

    unsafe extern "C" fn ignore(_: *mut c_void, _: i32, _: *const c_char) {}
    // SAFETY: valid out-pointers; the logger outlives the builder attempt; the factory comes from
    // `api`, alive for the whole test.
    unsafe {
        let mut logger = ptr::null_mut();
        let status = sys::calibr8_trt_logger_create(Some(ignore), ptr::null_mut(), &mut logger);
        if !sys::SHIM_AVAILABLE {
            assert_eq!(status, sys::CALIBR8_TRT_ERR_UNAVAILABLE);
            return;
        }
        assert_eq!(status, sys::CALIBR8_TRT_OK);
        let mut builder = ptr::null_mut();
        let status =
            sys::calibr8_trt_builder_create(Some(api.create_infer_builder), logger, &mut builder);
        assert_eq!(status, sys::CALIBR8_TRT_ERR_TENSORRT);
        assert!(builder.is_null());
        let message = CStr::from_ptr(sys::calibr8_trt_last_error()).to_string_lossy();
        assert!(
            message.starts_with(
                "calibr8_trt_builder_create: createInferBuilder_INTERNAL returned null"
            ),
            "{message}"
        );

        let library = libloading::Library::new(&lib).expect("reopen the fake");
        let last_version: libloading::Symbol<unsafe extern "C" fn() -> i32> =
            library.get(b"fake_last_version").expect("fake_last_version");
        let last_logger: libloading::Symbol<unsafe extern "C" fn() -> *mut c_void> =
            library.get(b"fake_last_logger").expect("fake_last_logger");
        assert_eq!(last_version(), sys::calibr8_trt_header_version());
        assert!(!last_logger().is_null());

        assert_eq!(sys::calibr8_trt_logger_destroy(logger), sys::CALIBR8_TRT_OK);
    }
}

/// A fake libnvinfer whose builder factory does what the real one does first: open its builder
/// resource library by bare name. It returns a non-null sentinel only when that works.
fn nvinfer_opening_its_builder_resource(version: i32, resource: &str) -> String {
    version_fn(version)
        + &format!(
            r#"
#include <dlfcn.h>
void* createInferBuilder_INTERNAL(void* logger, int version) {{
    (void)logger; (void)version;
    void* resource = dlopen("{resource}", RTLD_NOW);
    return resource ? (void*)0x1 : 0;
}}
void* createInferRuntime_INTERNAL(void* logger, int version) {{ (void)logger; (void)version; return 0; }}
"#
        )
}

/// TensorRT tar installs: libnvinfer opened by absolute path cannot find its builder resource
/// by bare name (NVIDIA/TensorRT#2218, "Error Code 6 … Unable to load library"); preloading it
/// from libnvinfer's folder makes the bare-name open succeed (glibc matches the soname).
// See: https://github.com/calibr8/calibr8/issues/16 (point 1)
#[test]
fn issue_16_builder_resource_is_preloaded_from_libnvinfers_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let version = TensorRtVersion { major: 10, minor: 16, patch: 7 };
    let resource_file = version.builder_resource_file();
    assert_eq!(resource_file, "libnvinfer_builder_resource.so.10.16.7");
    let resource = shared_library_with(
        dir.path(),
        &resource_file,
        "int fake_builder_resource(void) { return 7; }\n",
        &[&format!("-Wl,-soname,{resource_file}")],
    );
    let lib = shared_library_with(
        dir.path(),
        NVINFER_LIB,
        &nvinfer_opening_its_builder_resource(101_607, &resource_file),
        &["-ldl"],
    );
    let api = Api::load_requiring(Some(&lib), None, None).expect("fake loads");
    // SAFETY: the fake factory ignores its arguments.
    let before = unsafe { (api.create_infer_builder)(std::ptr::null_mut(), 0) };
    assert!(before.is_null(), "without the preload the bare-name open must fail, as in #2218");

    assert_eq!(api.preload_builder_resource(), &BuilderResource::Preloaded(resource.clone()));
    assert_eq!(api.preload_builder_resource().problem(), None);
    // SAFETY: as above.
    let after = unsafe { (api.create_infer_builder)(std::ptr::null_mut(), 0) };
    assert!(!after.is_null(), "the preloaded resource must satisfy the bare-name open");
}

// See: https://github.com/calibr8/calibr8/issues/16 (point 1)
#[test]
fn issue_16_a_missing_builder_resource_is_named_with_the_remedy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = shared_library(dir.path(), NVINFER_LIB, &(version_fn(101_503) + FACTORIES));
    let api = Api::load_requiring(Some(&lib), None, None).expect("fake loads");
    let status = api.preload_builder_resource();
    let BuilderResource::Missing { file, folder, error } = status else {
        panic!("expected Missing, got {status:?}");
    };
    assert_eq!(file, "libnvinfer_builder_resource.so.10.15.3");
    assert_eq!(folder, dir.path());
    assert!(!error.is_empty());
    let problem = status.problem().expect("a problem");
    assert!(problem.contains("libnvinfer_builder_resource.so.10.15.3"), "{problem}");
    assert!(problem.ends_with("to LD_LIBRARY_PATH"), "{problem}");
}

/// The shim is compiled against one set of headers; an older 10.x library may lack virtual
/// functions those headers call, so it is refused with the remedy.
// See: https://github.com/calibr8/calibr8/issues/16 (point 5)
#[test]
// SHIM_AVAILABLE is a build constant: the assert ties the outcome to the build.
#[allow(clippy::assertions_on_constants)]
fn issue_16_a_library_older_than_the_headers_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = shared_library(dir.path(), NVINFER_LIB, &(version_fn(100_900) + FACTORIES));
    let headers = TensorRtVersion { major: 10, minor: 16, patch: 0 };
    let err = Api::load_requiring(Some(&lib), None, Some(headers)).expect_err("10.9 < 10.16");
    assert_eq!(
        err,
        LoadError::OlderThanHeaders {
            found: TensorRtVersion { major: 10, minor: 9, patch: 0 },
            headers,
            path: lib.clone(),
        }
    );
    let message = err.to_string();
    assert!(
        message.contains("is TensorRT 10.9.0, older than the TensorRT 10.16.0 headers"),
        "{message}"
    );
    assert!(message.contains("Install TensorRT 10.16 or newer"), "{message}");
    assert!(message.ends_with("cargo build --release --features tensorrt)"), "{message}");
    // Patch releases of the same minor, and newer minors, are fine.
    for ok in [101_600, 101_601, 101_700] {
        let dir = tempfile::tempdir().expect("tempdir");
        let lib = shared_library(dir.path(), NVINFER_LIB, &(version_fn(ok) + FACTORIES));
        Api::load_requiring(Some(&lib), None, Some(headers)).expect("not older");
    }
    // load_from checks against the headers actually compiled in (none in the stub build).
    match headers_version() {
        Some(compiled) => {
            assert_eq!(compiled.major, 10);
            assert!(
                matches!(Api::load_from(Some(&lib), None), Err(LoadError::OlderThanHeaders { .. }))
                    == (compiled.minor > 9)
            );
        }
        None => {
            assert!(!calibr8_tensorrt_sys::SHIM_AVAILABLE);
            Api::load_from(Some(&lib), None).expect("the stub checks the major version only");
        }
    }
}

#[test]
fn the_plugin_library_beside_libnvinfer_is_found_and_optional() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = shared_library(dir.path(), NVINFER_LIB, &(version_fn(101_600) + FACTORIES));
    let api = Api::load_requiring(Some(&lib), None, None).expect("fake loads");
    assert!(
        matches!(api.plugins(), Err(LoadError::NotFound { library, .. }) if library == PLUGIN_LIB),
        "{:?}",
        api.plugins()
    );
    let plugins = shared_library(
        dir.path(),
        PLUGIN_LIB,
        "#include <stdbool.h>\nbool initLibNvInferPlugins(void* l, const char* n) { (void)l; (void)n; return true; }\n",
    );
    let api = Api::load_requiring(Some(&lib), None, None).expect("fake loads");
    let found = api.plugins().expect("plugins beside libnvinfer");
    assert_eq!(found.path, plugins);
    // SAFETY: the fake ignores its arguments.
    assert!(unsafe { (found.init)(std::ptr::null_mut(), c"".as_ptr()) });
}
