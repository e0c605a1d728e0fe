//! What the NNI configs hold: modules written, how their names were found, and every node left
//! out with the reason (NNI itself drops unknown keys silently).

use calibr8::export::{names, NniExport};
use std::collections::BTreeMap;
use std::io::Write;

pub fn print(out: &mut dyn Write, nni: &NniExport) -> std::io::Result<()> {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for e in &nni.entries {
        *by.entry(e.mapped_by.to_string()).or_default() += 1;
    }
    let how: Vec<String> = by.iter().map(|(k, n)| format!("{n} by {k}")).collect();
    writeln!(
        out,
        "NNI: {} modules in {} ({}); {} nodes left out",
        nni.entries.len(),
        names::NNI_V2,
        if how.is_empty() { "none".to_string() } else { how.join(", ") },
        nni.skipped.len()
    )?;
    for e in nni.entries.iter().filter(|e| e.nodes.len() > 1) {
        writeln!(
            out,
            "  {} ({}) is called {} times ({}): NNI applies one entry to every call; the widest \
             range was written",
            e.module,
            e.module_type,
            e.nodes.len(),
            e.nodes.join(", ")
        )?;
    }
    for s in &nni.skipped {
        writeln!(out, "  left out {} ({}): {}", s.node, s.op_type, s.reason)?;
    }
    for n in &nni.unknown_map_nodes {
        writeln!(out, "  the NNI module map names '{n}', which the model lacks")?;
    }
    Ok(())
}
