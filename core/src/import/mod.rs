//! Reading quantization back from files other tools (or an earlier `calibr8 quantize`) wrote.

mod outputs;
mod qdq;

pub use outputs::{fill_output_ranges, missing_output_ranges, MissingOutput};
pub use qdq::quantized_from_qdq;
