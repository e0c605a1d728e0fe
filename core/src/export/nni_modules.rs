//! ONNX node → PyTorch module path, the key NNI's configs need.
//!
//! NNI re-exports the PyTorch model itself and finds each config key in `model.named_modules()`
//! (`frontend_to_onnx.torch_to_onnx`), so its keys must be module paths such as
//! `layer1.0.conv1`, never ONNX node names. calibr8 recovers them, in this order, from: a
//! user-supplied map; torch ≥ 1.13 scope names (`/layer1/layer1.0/conv1/Conv`); the weight
//! initializer of a Conv/Gemm (`layer1.0.conv1.weight`, what torch < 1.13 exports keep); or a
//! node name that already is a module path (`conv1`). Numbered torch < 1.13 names of
//! parameterless ops (`Relu_3`) carry no module path: they need the map.

use crate::graph::Node;
use crate::internal::*;
use std::collections::BTreeMap;
use std::path::Path;

/// A user-supplied `{"onnx node name": "module.path"}` map (`null` skips the node).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModuleMap {
    entries: BTreeMap<String, Option<String>>,
}

impl ModuleMap {
    /// Reads a JSON object `{node: module path | null}`; errors name the file and the entry.
    pub fn load(path: impl AsRef<Path>) -> Result<ModuleMap> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
        let option = || format!("nni module map {}", path.display());
        let entries: BTreeMap<String, Option<String>> =
            serde_json::from_str(&text).map_err(|e| {
                Error::config(
                    option(),
                    format!("{e}. Write a JSON object {{\"onnx node name\": \"module.path\"}}"),
                )
            })?;
        for (node, module) in &entries {
            if let Some(m) = module {
                if !is_module_path(m) {
                    return Err(Error::config(
                        option(),
                        format!(
                            "'{node}' maps to '{m}', which is not a module path like \
                             layer1.0.conv1 (names from model.named_modules())"
                        ),
                    ));
                }
            }
        }
        Ok(ModuleMap { entries })
    }

    /// A map from pairs (tests, library users).
    pub fn from_pairs<I, N, M>(pairs: I) -> ModuleMap
    where
        I: IntoIterator<Item = (N, Option<M>)>,
        N: Into<String>,
        M: Into<String>,
    {
        ModuleMap {
            entries: pairs.into_iter().map(|(n, m)| (n.into(), m.map(Into::into))).collect(),
        }
    }

    /// Node names the map mentions that `graph` lacks (probably a map for another model).
    pub fn unknown_nodes<'a>(&'a self, graph: &'a Graph) -> impl Iterator<Item = &'a str> {
        self.entries.keys().filter(|n| graph.node(n).is_none()).map(String::as_str)
    }
}

/// Where a module path came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MappedBy {
    /// The user's module map.
    ModuleMap,
    /// A torch ≥ 1.13 scope name.
    ScopeName,
    /// The `<module>.weight` initializer of a Conv/Gemm.
    WeightName,
    /// The node name is a module path already.
    NodeName,
}

impl std::fmt::Display for MappedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MappedBy::ModuleMap => "module map",
            MappedBy::ScopeName => "torch scope name",
            MappedBy::WeightName => "weight name",
            MappedBy::NodeName => "node name",
        })
    }
}

/// `layer1.0.conv1`: identifiers and indices joined by dots.
fn is_module_path(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|atom| {
            !atom.is_empty() && atom.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// torch < 1.13 names nodes `<OpType>_<n>`.
fn is_numbered_name(node: &Node) -> bool {
    node.name
        .strip_prefix(node.op_type.as_str())
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// The module path in a torch ≥ 1.13 scope name, `Some("")` for an op at the root scope, `None`
/// for a name that is not scoped.
///
/// torch names each scope by the module's "unqualified" name: its last non-numeric atom plus the
/// indices after it (`layer1.0.conv1` → `conv1`, `layer1.0` → `layer1.0`), and a scope is only
/// written for modules that were called (a `ModuleList` is not). So a component that starts with
/// the previous component plus a dot (`layer1` then `layer1.0`) is an element of that container,
/// owned by the same parent; any other component is an attribute of the previous module.
pub fn scope_module_path(node_name: &str) -> Option<String> {
    let rest = node_name.strip_prefix('/')?;
    let parts: Vec<&str> = rest.split('/').collect();
    let (_, scopes) = parts.split_last()?;
    let mut full = String::new();
    let mut prev: Option<&str> = None;
    for c in scopes {
        if c.is_empty() {
            return None;
        }
        match prev {
            Some(p) if c.starts_with(&format!("{p}.")) => {
                full.truncate(full.len() - p.len());
                full.push_str(c);
            }
            _ => {
                if !full.is_empty() {
                    full.push('.');
                }
                full.push_str(c);
            }
        }
        prev = Some(c);
    }
    Some(full)
}

/// torch ≥ 1.13 names the second call of a module `relu_1`: if `path` is `X_<n>` and `X` is a
/// module seen with the same op type, it is that module.
fn fold_repeat_call(path: &str, op_type: &str, seen: &BTreeMap<String, String>) -> String {
    if let Some((base, n)) = path.rsplit_once('_') {
        if !n.is_empty()
            && n.chars().all(|c| c.is_ascii_digit())
            && seen.get(base).is_some_and(|op| op == op_type)
        {
            return base.to_string();
        }
    }
    path.to_string()
}

/// The module path of every node that has one, or why not (by node name).
pub fn module_paths(
    graph: &Graph,
    map: &ModuleMap,
) -> BTreeMap<String, std::result::Result<(String, MappedBy), String>> {
    // Scope paths first, so repeated calls can be folded onto the module they repeat.
    let mut scoped: BTreeMap<String, String> = BTreeMap::new();
    for node in &graph.nodes {
        if let Some(p) = scope_module_path(&node.name).filter(|p| !p.is_empty()) {
            scoped.entry(p).or_insert_with(|| node.op_type.clone());
        }
    }
    let mut out = BTreeMap::new();
    for node in &graph.nodes {
        out.insert(node.name.clone(), module_path(graph, node, map, &scoped));
    }
    out
}

fn module_path(
    graph: &Graph,
    node: &Node,
    map: &ModuleMap,
    scoped: &BTreeMap<String, String>,
) -> std::result::Result<(String, MappedBy), String> {
    if let Some(entry) = map.entries.get(&node.name) {
        return match entry {
            Some(m) => Ok((m.clone(), MappedBy::ModuleMap)),
            None => Err("the module map skips it (null)".into()),
        };
    }
    if let Some(path) = scope_module_path(&node.name) {
        if path.is_empty() {
            return Err("a functional op at the model's top level: no module of its own \
                        (NNI keys must be modules)"
                .into());
        }
        return Ok((fold_repeat_call(&path, &node.op_type, scoped), MappedBy::ScopeName));
    }
    if matches!(node.op_type.as_str(), "Conv" | "Gemm") {
        if let Some(m) = node.inputs.get(1).and_then(|w| w.strip_suffix(".weight")) {
            if is_module_path(m) && graph.is_constant(&node.inputs[1]) {
                return Ok((m.to_string(), MappedBy::WeightName));
            }
        }
    }
    if is_numbered_name(node) {
        return Err(format!(
            "torch < 1.13 names ('{}') carry no module path; add \"{}\": \"<module path>\" to \
             the --nni-module-map file",
            node.name, node.name
        ));
    }
    if is_module_path(&node.name) {
        return Ok((node.name.clone(), MappedBy::NodeName));
    }
    Err(format!(
        "'{}' is neither a torch scope name nor a module path; map it in the --nni-module-map file",
        node.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_names_become_module_paths() {
        let cases = [
            ("/layer1/layer1.0/conv1/Conv", Some("layer1.0.conv1")),
            ("/layer1/layer1.0/downsample/downsample.0/Conv", Some("layer1.0.downsample.0")),
            ("/model/layers.0/self_attn/q_proj/MatMul", Some("model.layers.0.self_attn.q_proj")),
            ("/features/features.0/features.0.0/Conv", Some("features.0.0")),
            ("/fc/Gemm", Some("fc")),
            ("/layer1/layer1.0/Add", Some("layer1.0")),
            ("/Flatten", Some("")),
            ("Conv_12", None),
            ("conv1", None),
        ];
        for (name, want) in cases {
            assert_eq!(scope_module_path(name).as_deref(), want, "{name}");
        }
    }

    #[test]
    fn repeated_calls_fold_onto_their_module() {
        let seen: BTreeMap<String, String> =
            [("layer1.0.relu".to_string(), "Relu".to_string())].into();
        assert_eq!(fold_repeat_call("layer1.0.relu_1", "Relu", &seen), "layer1.0.relu");
        assert_eq!(fold_repeat_call("layer1.0.relu_1", "Conv", &seen), "layer1.0.relu_1");
        assert_eq!(fold_repeat_call("block_2", "Relu", &seen), "block_2");
    }

    #[test]
    fn module_paths_and_numbered_names() {
        assert!(is_module_path("layer1.0.conv1"));
        assert!(!is_module_path("/layer1/Conv"));
        assert!(!is_module_path("a..b"));
        let node = |name: &str, op: &str| Node {
            name: name.into(),
            op_type: op.into(),
            inputs: vec![],
            outputs: vec![],
        };
        assert!(is_numbered_name(&node("Conv_12", "Conv")));
        assert!(!is_numbered_name(&node("Conv_x", "Conv")));
        assert!(!is_numbered_name(&node("conv_12", "Conv")));
    }
}
