//! The bundled font, registered with plotters once per process.

use plotters::style::{register_font, FontStyle};
use std::sync::OnceLock;

/// DejaVu Sans (Bitstream Vera license, `assets/LICENSE-DejaVu.txt`): bundled so that text never
/// depends on the system's fonts or on fontconfig.
static DEJAVU_SANS: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Family name every chart asks for.
pub(crate) const FAMILY: &str = "sans-serif";

/// Registers the bundled font under [`FAMILY`] (normal; bold falls back to it). Idempotent.
pub(crate) fn ensure_registered() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS)
            .map_err(|_| "the bundled DejaVuSans.ttf could not be parsed".to_string())
    })
    .clone()
}
