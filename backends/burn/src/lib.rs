//! calibr8-burn: int8 calibration for burn modules, and burn as a calibr8 backend.
#![warn(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod backend;
mod engine;
