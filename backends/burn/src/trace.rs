//! Tracing a burn module's forward pass into an ONNX graph named after module paths.
//!
//! burn-onnx's exporter runs the forward pass once on burn's capture device and lowers the
//! recorded operations to ONNX. Two things are added here: the batch axis is exported as
//! dynamic (so calibration batches of any size run), and nodes and tensors get module-path
//! names ([`crate::names`]). When burn-onnx meets an operation it cannot lower, the forward
//! pass is captured again here to say which module the operation belongs to.

use crate::error::{Error, Result};
use crate::names::{self, NodeView, Origin};
use burn::backend::capture::{CaptureBackend, TensorId};
use burn::backend::ir::OperationIr;
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Bool, Device, Int, Tensor};
use burn_onnx::export::{AxisSpec, ExportError, ExportOutput, InputSpec, OnnxExporter};
use calibr8_core::pb;
use calibr8_core::OnnxModel;
use prost::Message;
use std::collections::{HashMap, HashSet};

/// A traced model: the ONNX graph with module-path names, and how burn-onnx's names map to them.
#[derive(Clone, Debug)]
pub struct Traced {
    /// The float model, as calibr8 takes it (`calibr8::quantize`, exporters, backends).
    pub model: OnnxModel,
    /// burn-onnx's tensor names (`tensor_1234`, `node_7_shape`) → the names used in `model`.
    pub renamed: HashMap<String, String>,
}

/// Traces `forward(module, example_input)` into an ONNX model whose nodes and tensors are
/// named after module paths (`conv1`, `conv1/relu/output`; weights keep their parameter
/// paths, `conv1.weight`). Axis 0 of the input is exported as a dynamic batch axis.
///
/// ```
/// use burn::nn::{Linear, LinearConfig, Relu};
/// use burn::prelude::*;
///
/// #[derive(Module, Debug)]
/// struct Mlp { fc1: Linear, relu: Relu, fc2: Linear }
///
/// let device = Device::default();
/// let mlp = Mlp {
///     fc1: LinearConfig::new(4, 8).init(&device),
///     relu: Relu::new(),
///     fc2: LinearConfig::new(8, 2).init(&device),
/// };
/// let traced = calibr8_burn::trace(
///     &mlp,
///     |m: &Mlp, x: Tensor<2>| m.fc2.forward(m.relu.forward(m.fc1.forward(x))),
///     Tensor::zeros([3, 4], &device),
/// )?;
/// let nodes: Vec<&str> = traced.model.graph().node.iter().map(|n| n.name.as_str()).collect();
/// assert!(nodes.contains(&"fc1") && nodes.contains(&"fc1/relu") && nodes.contains(&"fc2"));
/// assert_eq!(traced.model.outputs()[0].name, "fc2/output");
/// # Ok::<(), calibr8_burn::Error>(())
/// ```
pub fn trace<M, const D: usize, O, F>(
    module: &M,
    forward: F,
    example_input: Tensor<D>,
) -> Result<Traced>
where
    M: Module,
    O: ExportOutput,
    F: Fn(&M, Tensor<D>) -> O,
{
    let module_name = std::any::type_name::<M>().to_string();
    if D == 0 {
        return Err(Error::Tensor {
            tensor: "example_input".into(),
            reason: "is a scalar; the first axis must be the batch axis".into(),
        });
    }
    // A second, twice as large batch lets burn-onnx tell the batch axis from constants.
    let validation = Tensor::cat(vec![example_input.clone(), example_input.clone()], 0);
    let spec = InputSpec::new(
        (0..D)
            .map(|axis| if axis == 0 { AxisSpec::dynamic("batch") } else { AxisSpec::Static })
            .collect::<Vec<_>>(),
    );
    let exporter = OnnxExporter::new();
    let exported = match exporter.export_dynamic(
        module,
        example_input.clone(),
        validation,
        std::slice::from_ref(&spec),
        &forward,
    ) {
        Ok(model) => model,
        Err(ExportError::DynamicShapeLost { .. } | ExportError::DynamicGraphMismatch { .. }) => {
            // The forward pass bakes the batch size into a shape (e.g. slices over it): export
            // with the example's batch size; calibration batches then need that size.
            tracing::warn!(
                "{module_name}: the batch axis cannot be traced as dynamic; exporting with the \
                 example input's batch size {}",
                example_input.dims()[0]
            );
            exporter
                .export(module, example_input.clone(), &forward)
                .map_err(|e| explain(module, &forward, example_input, e))?
        }
        Err(e) => return Err(explain(module, &forward, example_input, e)),
    };
    let mut proto = pb::ModelProto::decode(exported.as_bytes())
        .map_err(|e| Error::Trace { module: module_name.clone(), reason: e.to_string() })?;
    let params = parameter_paths(module);
    let graph = proto.graph.as_mut().ok_or_else(|| Error::Trace {
        module: module_name.clone(),
        reason: "burn-onnx returned a model without a graph".into(),
    })?;
    graph.name = short_type_name(&module_name);
    let renamed = names::rename_graph(graph, &params.into_iter().collect());
    let model = OnnxModel::from_proto(proto, format!("burn module {module_name}"))?;
    Ok(Traced { model, renamed })
}

fn short_type_name(name: &str) -> String {
    let base = name.split('<').next().unwrap_or(name);
    base.rsplit("::").next().unwrap_or(base).to_string()
}

/// The module's parameter paths, spelled as burn-onnx spells initializer names.
pub(crate) fn parameter_paths<M: Module>(module: &M) -> Vec<String> {
    #[derive(Default)]
    struct Paths {
        path: Vec<String>,
        found: Vec<String>,
    }
    impl ModuleVisitor for Paths {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.into());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, _param: &Param<Tensor<D>>) {
            self.found.push(self.path.join("."));
        }
        fn visit_int<const D: usize>(&mut self, _param: &Param<Tensor<D, Int>>) {
            self.found.push(self.path.join("."));
        }
        fn visit_bool<const D: usize>(&mut self, _param: &Param<Tensor<D, Bool>>) {
            self.found.push(self.path.join("."));
        }
    }
    let mut paths = Paths::default();
    module.visit(&mut paths);
    paths.found
}

/// Turns burn-onnx's error into ours; an unsupported operation gets its op name and module path.
fn explain<M, const D: usize, O, F>(
    module: &M,
    forward: &F,
    example_input: Tensor<D>,
    error: ExportError,
) -> Error
where
    M: Module,
    F: Fn(&M, Tensor<D>) -> O,
{
    let module_name = std::any::type_name::<M>().to_string();
    match error {
        ExportError::UnsupportedOperation { operation, kind } => {
            let op = op_name(&kind);
            let module_path = capture_placements(module, forward, example_input)
                .and_then(|placed| placed.get(operation).cloned())
                .unwrap_or_else(|| format!("<unknown module in {module_name}>"));
            Error::UnsupportedOp { op, module_path, index: operation }
        }
        other => Error::Trace { module: module_name, reason: other.to_string() },
    }
}

/// `Float(F32, Cos(UnaryOpIr { .. }))` → `Float::Cos`: the variant path of burn's operation,
/// without dtypes and the payload struct.
pub(crate) fn op_name(debug: &str) -> String {
    let head = debug.split('{').next().unwrap_or(debug);
    let parts: Vec<&str> = head
        .split('(')
        .map(|seg| seg.rsplit(',').next().unwrap_or(seg).trim())
        .filter(|seg| !seg.is_empty() && !seg.ends_with("Ir"))
        .collect();
    if parts.is_empty() {
        head.trim().to_string()
    } else {
        parts.join("::")
    }
}

/// Captures the forward pass the way burn-onnx does (same operation order, same dropping of
/// non-boundary `Init` records) and names each operation as [`names::place`] would.
fn capture_placements<M, const D: usize, O, F>(
    module: &M,
    forward: &F,
    example_input: Tensor<D>,
) -> Option<Vec<String>>
where
    M: Module,
    F: Fn(&M, Tensor<D>) -> O,
{
    let device = Device::capture();
    let mut ids: Option<(TensorId, HashMap<TensorId, String>)> = None;
    let captured = device
        .capture_scope(|scope| {
            let module = module.clone().to_device(&device);
            let mut params = ParamIds::default();
            module.visit(&mut params);
            let input = example_input.to_device(&device);
            let Ok(input_id) = input.clone().try_into_primitive::<CaptureBackend>().map(|t| t.id())
            else {
                return scope.complete([], []);
            };
            drop(forward(&module, input));
            ids = Some((input_id, params.names));
            scope.complete([input_id], [])
        })
        .ok()?;
    let (input_id, params) = ids?;
    let mut operations = captured.graph.operations;
    operations.retain(|op| match op {
        OperationIr::Init(init) => init.out.id == input_id,
        _ => true,
    });
    let views: Vec<NodeView<TensorId>> = operations
        .iter()
        .map(|op| NodeView {
            op: names::snake(op_name(&format!("{op:?}")).rsplit("::").next().unwrap_or("op")),
            inputs: op.inputs().map(|t| t.id).collect(),
            outputs: op.outputs().map(|t| t.id).collect(),
        })
        .collect();
    let values: HashSet<TensorId> = captured.values.keys().copied().collect();
    let placed = names::place(&views, |id| {
        if let Some(path) = params.get(id) {
            Some(names::param_origin(path))
        } else if *id == input_id {
            Some(Origin::Input)
        } else if values.contains(id) {
            Some(Origin::Const)
        } else {
            None
        }
    });
    Some(placed.into_iter().map(|p| p.name).collect())
}

/// Parameter tensor ids on the capture device → parameter paths.
#[derive(Default)]
struct ParamIds {
    path: Vec<String>,
    names: HashMap<TensorId, String>,
}

impl ParamIds {
    fn record<T>(&mut self, tensor: T)
    where
        T: TryInto<TensorId>,
    {
        if let Ok(id) = tensor.try_into() {
            self.names.entry(id).or_insert_with(|| self.path.join("."));
        }
    }
}

/// A capture-device tensor's id (parameters elsewhere are skipped: they cannot occur here).
struct Captured<T>(T);

macro_rules! captured_id {
    ($kind:ty) => {
        impl<const D: usize> TryFrom<Captured<Tensor<D, $kind>>> for TensorId {
            type Error = ();
            fn try_from(t: Captured<Tensor<D, $kind>>) -> std::result::Result<Self, ()> {
                t.0.try_into_primitive::<CaptureBackend>().map(|p| p.id()).map_err(|_| ())
            }
        }
    };
}
captured_id!(burn::tensor::Float);
captured_id!(Int);
captured_id!(Bool);

impl ModuleVisitor for ParamIds {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.into());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.record(Captured(param.val()));
    }
    fn visit_int<const D: usize>(&mut self, param: &Param<Tensor<D, Int>>) {
        self.record(Captured(param.val()));
    }
    fn visit_bool<const D: usize>(&mut self, param: &Param<Tensor<D, Bool>>) {
        self.record(Captured(param.val()));
    }
}

#[cfg(test)]
mod tests {
    use super::op_name;

    #[test]
    fn op_names_from_burn_debug_output() {
        assert_eq!(op_name("Float(F32, Cos(UnaryOpIr { input: x, out: y }))"), "Float::Cos");
        assert_eq!(op_name("Activation(Gelu(UnaryOpIr { input: x }))"), "Activation::Gelu");
        assert_eq!(op_name("Module(Conv2d(Conv2dOpIr { x: a }))"), "Module::Conv2d");
        assert_eq!(op_name("Drop(TensorIr { id: 3 })"), "Drop");
    }
}
