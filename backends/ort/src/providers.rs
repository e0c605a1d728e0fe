//! Execution providers: which ONNX Runtime engine runs the session, and the options each takes.
//!
//! Options are plain `(key, value)` pairs here, exactly as ONNX Runtime's
//! `UpdateTensorRTProviderOptions` / `UpdateCUDAProviderOptions` read them, so what calibr8 asks
//! for can be checked without a GPU; `sys.rs` hands them to ONNX Runtime unchanged.

use std::path::{Path, PathBuf};

/// Where a session runs. A provider that fails to register is an error, never a silent
/// fallback to the CPU (ONNX Runtime's own default is to fall back).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub enum Provider {
    /// ONNX Runtime's CPU kernels (MLAS: int8 kernels for QDQ groups it can fuse).
    #[default]
    Cpu,
    /// The CUDA execution provider (needs the `onnxruntime-gpu` build, CUDA and cuDNN).
    Cuda {
        /// The GPU ordinal.
        device_id: u32,
    },
    /// The TensorRT execution provider (needs `onnxruntime-gpu` built with TensorRT and
    /// TensorRT's libraries); nodes TensorRT cannot take run on CUDA.
    TensorRt(TensorRtOptions),
}

impl Provider {
    /// ONNX Runtime's name for it (`CPUExecutionProvider`, ...), as `get_available_providers`
    /// lists them.
    pub fn ort_name(&self) -> &'static str {
        match self {
            Provider::Cpu => "CPUExecutionProvider",
            Provider::Cuda { .. } => "CUDAExecutionProvider",
            Provider::TensorRt(_) => "TensorrtExecutionProvider",
        }
    }

    /// calibr8's short name, used in backend names and reports (`cpu`, `cuda`, `tensorrt`).
    pub fn short_name(&self) -> &'static str {
        match self {
            Provider::Cpu => "cpu",
            Provider::Cuda { .. } => "cuda",
            Provider::TensorRt(_) => "tensorrt",
        }
    }

    /// The provider options, as ONNX Runtime's option keys.
    pub fn options(&self) -> Vec<(String, String)> {
        match self {
            Provider::Cpu => vec![],
            Provider::Cuda { device_id } => vec![("device_id".into(), device_id.to_string())],
            Provider::TensorRt(t) => t.options(),
        }
    }
}

/// How the TensorRT execution provider gets int8 ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrtInt8 {
    /// No int8: fp32 (or fp16 with [`TensorRtOptions::fp16`]).
    #[default]
    Off,
    /// Explicit quantization: the QDQ model carries the scales (TensorRT 10's recommended way).
    Qdq,
    /// Implicit quantization: the float model plus a TensorRT calibration cache — calibr8's
    /// `calibration.cache` — read as a *native* calibration table
    /// (`trt_int8_use_native_calibration_table = 1`: `TRT-…` header, `tensor: <hex scale>`
    /// lines). `None` writes the quantized model's own cache to a temporary folder at prepare
    /// time. Deprecated by TensorRT since 10.1, removed in TensorRT 11.
    CalibrationTable(Option<PathBuf>),
}

/// Options of the TensorRT execution provider that calibr8 sets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TensorRtOptions {
    /// The GPU ordinal.
    pub device_id: u32,
    /// Let TensorRT pick fp16 kernels.
    pub fp16: bool,
    /// Where int8 ranges come from.
    pub int8: TrtInt8,
    /// Folder for TensorRT engine caches (`trt_engine_cache_path`); `None` builds every time.
    pub engine_cache: Option<PathBuf>,
}

impl TensorRtOptions {
    /// The provider options. A calibration table is passed as an absolute path in
    /// `trt_int8_calibration_table_name`: ONNX Runtime looks for it at
    /// `trt_engine_cache_path / name` (`GetCachePath`), which is the name itself when the name is
    /// absolute or no cache folder is set.
    ///
    /// ```
    /// use calibr8_ort::{TensorRtOptions, TrtInt8};
    /// let options = TensorRtOptions {
    ///     int8: TrtInt8::CalibrationTable(Some("/out/calibration.cache".into())),
    ///     ..Default::default()
    /// };
    /// let kv = options.options();
    /// assert!(kv.contains(&("trt_int8_enable".into(), "1".into())));
    /// assert!(kv.contains(&("trt_int8_use_native_calibration_table".into(), "1".into())));
    /// assert!(kv.contains(&(
    ///     "trt_int8_calibration_table_name".into(),
    ///     "/out/calibration.cache".into()
    /// )));
    /// ```
    pub fn options(&self) -> Vec<(String, String)> {
        let flag = |b: bool| if b { "1" } else { "0" }.to_string();
        let mut kv = vec![
            ("device_id".to_string(), self.device_id.to_string()),
            ("trt_fp16_enable".to_string(), flag(self.fp16)),
            ("trt_int8_enable".to_string(), flag(self.int8 != TrtInt8::Off)),
        ];
        if let Some(dir) = &self.engine_cache {
            kv.push(("trt_engine_cache_enable".into(), "1".into()));
            kv.push(("trt_engine_cache_path".into(), absolute(dir).display().to_string()));
        }
        if let TrtInt8::CalibrationTable(Some(table)) = &self.int8 {
            let table = absolute(table).display().to_string();
            kv.push(("trt_int8_calibration_table_name".into(), table));
            kv.push(("trt_int8_use_native_calibration_table".into(), "1".into()));
        }
        kv
    }
}

/// `path` made absolute against the current folder (ONNX Runtime resolves relative names
/// against its engine cache folder, not ours).
fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(kv: &'a [(String, String)], key: &str) -> Option<&'a str> {
        kv.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn fp32_tensorrt_enables_nothing() {
        let kv = TensorRtOptions::default().options();
        assert_eq!(get(&kv, "trt_int8_enable"), Some("0"));
        assert_eq!(get(&kv, "trt_fp16_enable"), Some("0"));
        assert_eq!(get(&kv, "trt_int8_calibration_table_name"), None);
        assert_eq!(get(&kv, "trt_engine_cache_enable"), None);
    }

    #[test]
    fn qdq_int8_needs_no_table() {
        let kv = TensorRtOptions { int8: TrtInt8::Qdq, fp16: true, ..Default::default() }.options();
        assert_eq!(get(&kv, "trt_int8_enable"), Some("1"));
        assert_eq!(get(&kv, "trt_fp16_enable"), Some("1"));
        assert_eq!(get(&kv, "trt_int8_use_native_calibration_table"), None);
    }

    #[test]
    fn calibr8_cache_is_a_native_table() {
        let table = PathBuf::from("/models/out/calibration.cache");
        let options = TensorRtOptions {
            device_id: 1,
            int8: TrtInt8::CalibrationTable(Some(table)),
            ..Default::default()
        };
        let kv = options.options();
        assert_eq!(get(&kv, "device_id"), Some("1"));
        assert_eq!(get(&kv, "trt_int8_enable"), Some("1"));
        assert_eq!(get(&kv, "trt_int8_use_native_calibration_table"), Some("1"));
        assert_eq!(
            get(&kv, "trt_int8_calibration_table_name"),
            Some("/models/out/calibration.cache")
        );
        assert_eq!(get(&kv, "trt_engine_cache_enable"), None);
        assert_eq!(get(&kv, "trt_engine_cache_path"), None);
    }

    #[test]
    fn with_an_engine_cache_the_table_path_stays_absolute() {
        let options = TensorRtOptions {
            int8: TrtInt8::CalibrationTable(Some("/tables/calibration.cache".into())),
            engine_cache: Some("/cache".into()),
            ..Default::default()
        };
        let kv = options.options();
        assert_eq!(get(&kv, "trt_engine_cache_enable"), Some("1"));
        assert_eq!(get(&kv, "trt_engine_cache_path"), Some("/cache"));
        assert_eq!(get(&kv, "trt_int8_calibration_table_name"), Some("/tables/calibration.cache"));
    }

    #[test]
    fn a_relative_table_is_made_absolute() {
        let options = TensorRtOptions {
            int8: TrtInt8::CalibrationTable(Some("out/calibration.cache".into())),
            ..Default::default()
        };
        let kv = options.options();
        let expected = std::env::current_dir().unwrap().join("out/calibration.cache");
        assert_eq!(
            get(&kv, "trt_int8_calibration_table_name"),
            Some(expected.display().to_string().as_str())
        );
    }

    #[test]
    fn names() {
        assert_eq!(Provider::Cpu.ort_name(), "CPUExecutionProvider");
        assert_eq!(Provider::Cuda { device_id: 0 }.options(), [("device_id".into(), "0".into())]);
        assert_eq!(Provider::TensorRt(Default::default()).short_name(), "tensorrt");
    }
}
