//! `ranges.json`: everything calibr8 decided per tensor, for people and scripts.

use crate::internal::*;
use serde_json::{json, Map, Value};

/// `{tensor: {role, observer, axis, min, max, amax, scale, zero_point, dtype, scheme,
/// clipped_fraction, batches, values, consumers, producer, quantized}}`, for the quantized
/// tensors and those only observed for the NNI configs (`quantized: false`).
pub fn ranges_json(q: &QuantizedModel) -> Value {
    let mut out = Map::new();
    let all = q.tensors.iter().map(|(n, t)| (n, t, true));
    for (name, t, quantized) in all.chain(q.observed.iter().map(|(n, t)| (n, t, false))) {
        let mut entry = json!({
                "role": t.target.role,
                "observer": t.range.method.to_string(),
                "axis": t.params.axis,
                "min": t.range.min,
                "max": t.range.max,
                "amax": t.range.amax,
                "scale": t.params.scale,
                "zero_point": t.params.zero_point,
                "dtype": t.params.spec.dtype,
                "scheme": t.params.spec.scheme,
                "narrow_range": t.params.spec.narrow_range,
                "clipped_fraction": t.range.clipped_fraction,
                "batches": t.range.batches,
                "values": t.range.values,
                "consumers": t.target.consumers,
                "producer": t.target.producer,
            "quantized": quantized,
        });
        // `method: auto`: the candidates and why this one.
        if let (Some(choice), Some(map)) = (q.auto.get(name), entry.as_object_mut()) {
            map.insert(
                "auto".into(),
                json!({
                    "chosen": choice.chosen.to_string(),
                    "local_best": choice.local_best.to_string(),
                    "taken_from": choice.taken_from,
                    "scored_on": choice.scored_on,
                    "candidates": choice.candidates.iter().map(|c| json!({
                        "method": c.method.to_string(),
                        "amax": c.amax,
                        "error": c.error,
                    })).collect::<Vec<_>>(),
                }),
            );
        }
        out.insert(name.clone(), entry);
    }
    Value::Object(out)
}
