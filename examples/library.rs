//! Calibrates the digits CNN with MSE and writes every artifact to `out/digits`.

use calibr8::prelude::*;

fn main() -> Result<(), calibr8::Error> {
    let model = OnnxModel::load("examples/digits/digits_cnn.onnx")?;
    let data = NpySource::open("examples/digits/calib.npy", 64)?;
    let config = QuantConfig::builder().method(Method::Mse).build()?;
    let quantized = calibr8::quantize(&model, &data, &config)?;
    calibr8::export::write_artifacts(&quantized, "out/digits", &ArtifactOptions::default())?;
    Ok(())
}
