//! Gemm and MatMul on burn's matmul.

use super::{broadcast_shape, Inputs};
use crate::engine::attrs::Attrs;
use crate::engine::value::{FloatValue, Value};

/// Gemm: `alpha * A' B' + beta * C`, with `'` the optional transposes.
pub(crate) fn gemm(inputs: &Inputs<'_>) -> Result<Value, String> {
    let a = Attrs(inputs.node);
    let (x, w) = (inputs.float(0)?, inputs.float(1)?);
    if x.rank != 2 || w.rank != 2 {
        return Err(format!("A and B must be 2-D, got {:?} and {:?}", x.shape(), w.shape()));
    }
    let mut x2 = x.to_rank::<2>();
    if a.int("transA", 0) != 0 {
        x2 = x2.transpose();
    }
    let mut w2 = w.to_rank::<2>();
    if a.int("transB", 0) != 0 {
        w2 = w2.transpose();
    }
    let ([m, k], [k2, n]) = (x2.dims(), w2.dims());
    if k != k2 {
        return Err(format!(
            "A' is {m}x{k} and B' is {k2}x{n} (transA={}, transB={}): inner sizes differ",
            a.int("transA", 0),
            a.int("transB", 0)
        ));
    }
    let (alpha, beta) = (a.float("alpha", 1.0), a.float("beta", 1.0));
    let mut y = x2.matmul(w2);
    if alpha != 1.0 {
        y = y.mul_scalar(alpha);
    }
    let mut y = FloatValue::from_rank(y);
    if let Some(c) = inputs.opt_float(2)? {
        let out = broadcast_shape(&[m, n], &c.shape())?;
        if out != [m, n] {
            return Err(format!("C of shape {:?} does not broadcast to [{m}, {n}]", c.shape()));
        }
        let c = if beta != 1.0 { c.t.mul_scalar(beta) } else { c.t };
        y = FloatValue::new(y.t.add(c), 2);
    }
    Ok(Value::Float(y))
}

/// MatMul with numpy semantics: 1-D operands are promoted and the added axis removed, batch
/// dimensions broadcast.
pub(crate) fn matmul(inputs: &Inputs<'_>) -> Result<Value, String> {
    let (a, b) = (inputs.float(0)?, inputs.float(1)?);
    let (sa, sb) = (a.shape(), b.shape());
    if sa.is_empty() || sb.is_empty() {
        return Err("MatMul operands must have rank 1 or more".into());
    }
    let mut a_shape = sa.clone();
    if sa.len() == 1 {
        a_shape.insert(0, 1);
    }
    let mut b_shape = sb.clone();
    if sb.len() == 1 {
        b_shape.push(1);
    }
    let (ra, rb) = (a_shape.len(), b_shape.len());
    let (m, k, k2, n) = (a_shape[ra - 2], a_shape[ra - 1], b_shape[rb - 2], b_shape[rb - 1]);
    if k != k2 {
        return Err(format!("shapes {sa:?} and {sb:?}: inner sizes {k} and {k2} differ"));
    }
    let mut out = broadcast_shape(&a_shape[..ra - 2], &b_shape[..rb - 2])?;
    out.extend([m, n]);
    let a = a.reshape(&a_shape)?;
    let b = b.reshape(&b_shape)?;
    let y = FloatValue::new(a.t.matmul(b.t), out.len());
    // Drop the promoted axes again.
    let mut final_shape = out.clone();
    if sb.len() == 1 {
        final_shape.pop();
    }
    if sa.len() == 1 {
        final_shape.remove(final_shape.len() - if sb.len() == 1 { 1 } else { 2 });
    }
    y.reshape(&final_shape).map(Value::Float)
}
