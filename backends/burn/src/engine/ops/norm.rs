//! BatchNormalization in inference mode (running statistics).

use super::Inputs;
use crate::engine::attrs::Attrs;
use crate::engine::value::{FloatValue, Value};

/// `(x - mean) / sqrt(var + epsilon) * scale + bias`, per channel (dim 1).
pub(crate) fn batch_norm(inputs: &Inputs<'_>) -> Result<Value, String> {
    let node = inputs.node;
    if node.output.iter().skip(1).any(|o| !o.is_empty()) {
        return Err("training mode (running mean/var outputs) is not supported".into());
    }
    let x = inputs.float(0)?;
    let shape = x.shape();
    if shape.len() < 2 {
        return Err(format!("input of shape {shape:?} has no channel dim"));
    }
    let c = shape[1];
    // Each parameter as [C, 1, ..., 1] so that it broadcasts along dim 1.
    let mut param_shape = vec![1; shape.len() - 1];
    param_shape[0] = c;
    let param = |i: usize, name: &str| -> Result<FloatValue, String> {
        let p = inputs.float(i)?;
        if p.shape() != [c] {
            return Err(format!("{name} of shape {:?} must be [{c}]", p.shape()));
        }
        p.reshape(&param_shape)
    };
    let (scale, bias, mean, var) =
        (param(1, "scale")?, param(2, "B")?, param(3, "mean")?, param(4, "var")?);
    let epsilon = Attrs(node).float("epsilon", 1e-5);
    let inv_std = var.t.add_scalar(epsilon).sqrt().recip();
    let y = x.t.sub(mean.t).mul(inv_std.mul(scale.t)).add(bias.t);
    Ok(Value::Float(FloatValue::new(y, shape.len())))
}
