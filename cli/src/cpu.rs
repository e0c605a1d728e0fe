//! What the CPU offers int8 inference: tract picks its int8 matrix kernel at run time from these
//! features, and without them int8 is slower than fp32 on tract (the bench says so up front);
//! ONNX Runtime's u8·s8 kernels saturate without them (`--preset cpu` says so).

/// CPU model name (Linux), for the report.
pub fn name() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_string())
}

/// The int8 dot-product features present, as /proc/cpuinfo names them: `avx512_vnni`
/// (`vpdpbusd`, zmm), `avx_vnni` (the VEX form), `amx_int8` (`tdpbssd` tiles). `None` where the
/// flags cannot be read (not Linux).
pub fn int8_features() -> Option<Vec<&'static str>> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let flags = info.lines().find(|l| l.starts_with("flags"))?;
    let flags: Vec<&str> = flags.split_whitespace().collect();
    Some(
        ["avx512_vnni", "avx_vnni", "amx_int8"].into_iter().filter(|f| flags.contains(f)).collect(),
    )
}

/// A warning when this x86_64 CPU has none of them, else `None`.
pub fn int8_note() -> Option<String> {
    if std::env::consts::ARCH != "x86_64" || !int8_features()?.is_empty() {
        return None;
    }
    Some(
        "this CPU has no AVX-512 VNNI, AVX-VNNI or AMX-INT8: tract's int8 rows use its AVX2 \
         emulation kernel (avx2_mmm_i32_8x8), which is slower than its fp32 kernel; measure int8 \
         on the CPU you deploy to"
            .into(),
    )
}

/// A note for `--preset cpu` on an x86_64 CPU without VNNI or AMX, else `None`.
pub fn cpu_preset_note() -> Option<String> {
    if std::env::consts::ARCH != "x86_64" || !int8_features()?.is_empty() {
        return None;
    }
    Some(
        "--preset cpu writes 8-bit weights for CPUs with AVX-512 VNNI, AVX-VNNI or AMX; this CPU \
         has none, and ONNX Runtime's u8·s8 kernels saturate on such CPUs (digits CNN on an \
         AVX2 EPYC: 21.6 dB SQNR instead of 37.9). Deploying to a CPU like this one? Use \
         --preset cpu-avx2 (7-bit weights)"
            .into(),
    )
}
