//! The process-wide loader honours `CALIBR8_TENSORRT_LIB` and says what to do when it points
//! nowhere. Its own test binary: it changes the environment and the global loader.

use calibr8_tensorrt_sys::loader::{self, LoadError, ENV_LIB, NVINFER_LIB};

#[test]
fn env_override_pointing_nowhere_is_not_found_with_the_remedy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nowhere").join("libnvinfer.so.10");
    // SAFETY: this binary's only test; nothing else reads the environment concurrently.
    unsafe { std::env::set_var(ENV_LIB, &missing) };

    let err = loader::api().expect_err("nothing at that path");
    let LoadError::NotFound { library, tried } = &err else {
        panic!("expected NotFound, got {err:?}");
    };
    assert_eq!(*library, NVINFER_LIB);
    // The override is the only place looked at: no silent fallback to the system's copy.
    assert_eq!(tried.len(), 1, "{tried:?}");
    assert_eq!(tried[0].path, missing);
    let message = err.to_string();
    assert!(message.contains(&missing.display().to_string()), "{message}");
    assert!(
        message.ends_with(
            "Install TensorRT 10 (libnvinfer.so.10), or set \
             CALIBR8_TENSORRT_LIB=/path/to/libnvinfer.so.10"
        ),
        "{message}"
    );

    // A failure is not cached: init_from tries again, with its own path.
    let other = dir.path().join("elsewhere.so");
    match loader::init_from(&other) {
        Err(LoadError::NotFound { tried, .. }) => assert_eq!(tried[0].path, other),
        other => panic!("expected NotFound, got {other:?}"),
    }
}
