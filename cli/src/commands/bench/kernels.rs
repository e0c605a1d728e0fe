//! Which matrix kernels tract picked for a row: the direct answer to "why is int8 (not)
//! faster here?" (`avx2_mmm_i32_8x8` is the AVX2 emulation, `avx512vnni_*` / `avx512amx_*` the
//! real int8 instructions, `fma_mmm_f32_*` the fp32 ones).

use super::rows::Variant;
use calibr8::tract::{TractEngine, TractInt8Backend};
use calibr8::{EngineOptions, Lowering, OnnxModel, QuantizedModel};

/// The kernel names in tract's optimized model for `variant`, sorted; `None` for other engines
/// or when the engine cannot be prepared (the timing row reports that).
pub fn tract_kernels(
    variant: &Variant,
    model: &OnnxModel,
    q: Option<&QuantizedModel>,
) -> Option<Vec<String>> {
    let options = EngineOptions::default();
    let engine: TractEngine = match (variant.backend.as_str(), variant.int8, q) {
        ("tract", false, _) => TractEngine::new(model, &options).ok()?,
        ("tract", true, Some(q)) => {
            TractEngine::new(&calibr8::export::qdq_model(q).ok()?, &options).ok()?
        }
        ("tract-int8", true, Some(q)) => {
            TractInt8Backend.prepare_engine(Lowering::Quantized(q), &options).ok()?
        }
        _ => return None,
    };
    Some(kernel_names(engine.nodes().iter().map(|n| n.info.as_str())))
}

/// Kernel names from tract's op descriptions: the lists after `with [`.
pub fn kernel_names<'a>(infos: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut names: Vec<String> = vec![];
    for info in infos {
        for part in info.split("with [").skip(1) {
            let list = part.split(']').next().unwrap_or_default();
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                if !names.iter().any(|k| k == name) {
                    names.push(name.to_string());
                }
            }
        }
    }
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_names_are_read_from_tract_op_info() {
        let infos = [
            "c_shape:N,64; Mult: m:64 k:512 n:N with [avx2_mmm_i32_8x8]; Ops: matmul(k=512) >>> store",
            "Mult: m:4096 k:1024 n:N with [fma_mmm_f32_32x1, fma_mmm_f32_32x3]; Ops: …",
            "Axis: 1",
            "Mult: with [avx2_mmm_i32_8x8]",
        ];
        assert_eq!(
            kernel_names(infos.into_iter()),
            ["avx2_mmm_i32_8x8", "fma_mmm_f32_32x1", "fma_mmm_f32_32x3"]
        );
    }
}
