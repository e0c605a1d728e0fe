//! Renders one scene twice, to SVG and to an RGB bitmap encoded as PNG, all in memory.

use crate::{font, PlotError, Rendered};
use plotters::coord::Shift;
use plotters::prelude::*;

/// A chart that can draw itself on any plotters backend.
pub(crate) trait Scene {
    /// Title, for error messages.
    fn title(&self) -> &str;
    /// Picture size in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws on a white root area of [`Scene::size`].
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Renders `scene` to SVG and PNG.
pub(crate) fn render<S: Scene>(scene: &S) -> Result<Rendered, PlotError> {
    let draw_err = |message: String| PlotError::Draw { chart: scene.title().to_string(), message };
    font::ensure_registered().map_err(draw_err)?;
    let (width, height) = scene.size();

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        paint(scene, &root).map_err(draw_err)?;
    }

    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        paint(scene, &root).map_err(draw_err)?;
    }
    let png = encode_png(&rgb, width, height).map_err(|e| PlotError::Encode {
        chart: scene.title().to_string(),
        message: e.to_string(),
    })?;
    Ok(Rendered { svg, png })
}

fn paint<S: Scene, DB: DrawingBackend>(
    scene: &S,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    scene.draw(root)?;
    root.present().map_err(|e| e.to_string())
}

/// 8-bit RGB PNG of a `width × height` buffer.
fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(rgb)?;
        writer.finish()?;
    }
    Ok(out)
}

/// Pixel width of `text` at `size` px, estimated (DejaVu Sans averages ~0.6 em per glyph); used
/// only to size label areas, never to place text.
pub(crate) fn text_width(text: &str, size: u32) -> u32 {
    (text.chars().count() as f64 * size as f64 * 0.6).ceil() as u32
}
