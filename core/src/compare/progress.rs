//! What [`super::compare`] is doing, as events a progress bar with an ETA can follow.

/// A stage starting, or a step of it done.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CompareEvent<'a> {
    /// A stage starts. `total` counts its steps (batches, methods, nodes, mixed-precision
    /// steps) when known; a stage may end before reaching it (a target met early).
    Stage {
        /// e.g. `ranking 5 methods on tract`.
        title: &'a str,
        /// Steps in the stage.
        total: Option<usize>,
    },
    /// `done` steps of the current stage are complete; `item` names the step at hand (the
    /// method just evaluated, the node whose run starts, the batch just observed).
    Step {
        /// Steps done so far.
        done: usize,
        /// A method, a node, `pass 1, batch 3`.
        item: &'a str,
    },
}
