//! The ONNX protobuf types ([`ModelProto`], [`GraphProto`], [`NodeProto`], [`TensorProto`], ...),
//! generated once from ONNX's `onnx.proto` by `scripts/gen_onnx_proto` and committed, so
//! calibr8-core needs only `prost` to read and write ONNX files, and compiles no engine.
//!
//! The names, fields and nested modules (`tensor_proto::DataType`,
//! `attribute_proto::AttributeType`, `type_proto::Value`, `tensor_shape_proto::dimension::Value`)
//! are the ones `tract_onnx::pb` has, since both come from ONNX's proto3 form of the file. An
//! engine that wants its own types gets them through the wire format:
//! `prost::Message::encode_to_vec(&model.proto)`.
//!
//! ```
//! use calibr8_core::pb::{tensor_proto::DataType, NodeProto};
//! use prost::Message;
//! let node = NodeProto { op_type: "Relu".into(), ..Default::default() };
//! assert_eq!(NodeProto::decode(node.encode_to_vec().as_slice()).unwrap(), node);
//! assert_eq!(DataType::Float as i32, 1);
//! ```

#[allow(missing_docs, clippy::all, clippy::pedantic, rustdoc::all)]
mod onnx;

pub use onnx::*;

mod raw_data;
pub(crate) use raw_data::raw_data;
