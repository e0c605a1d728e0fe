//! The loader against fake `libnvinfer.so.10` / `libnvonnxparser.so.10` built by the test:
//! wrong version, missing symbol, and a complete one whose factories reach the shim.
#![cfg(target_os = "linux")]

mod common;

use calibr8_tensorrt_sys::loader::{Api, LoadError, TensorRtVersion, NVINFER_LIB, ONNX_PARSER_LIB};
use common::{shared_library, version_fn, FACTORIES, PARSER};

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
    let source = version_fn(100_900)
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
    let lib = shared_library(dir.path(), NVINFER_LIB, &(version_fn(100_000) + FACTORIES));
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
    let lib = shared_library(dir.path(), NVINFER_LIB, &(version_fn(100_000) + FACTORIES));
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
