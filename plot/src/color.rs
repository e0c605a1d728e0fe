//! Colours: a colour-blind-safe series palette and a sequential map for heat-map cells.

use plotters::style::RGBColor;

/// Okabe–Ito palette (distinguishable with the common colour-vision deficiencies).
const SERIES: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];

/// Colour of series `index` (the palette repeats after eight).
pub(crate) fn series(index: usize) -> RGBColor {
    SERIES[index % SERIES.len()]
}

/// Grey for n/a cells.
pub(crate) const MISSING: RGBColor = RGBColor(200, 200, 200);

/// Viridis at five stops, light end last, so larger values read brighter.
const STOPS: [(f64, f64, f64); 5] = [
    (68.0, 1.0, 84.0),
    (59.0, 82.0, 139.0),
    (33.0, 145.0, 140.0),
    (94.0, 201.0, 98.0),
    (253.0, 231.0, 37.0),
];

/// Viridis colour of `t` in [0, 1] (clamped), linearly interpolated between stops.
pub(crate) fn sequential(t: f64) -> RGBColor {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let scaled = t * (STOPS.len() - 1) as f64;
    let i = (scaled.floor() as usize).min(STOPS.len() - 2);
    let f = scaled - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Black or white, whichever reads better on `background` (relative luminance).
pub(crate) fn text_on(background: RGBColor) -> RGBColor {
    let RGBColor(r, g, b) = background;
    let luminance = 0.2126 * r as f64 + 0.7152 * g as f64 + 0.0722 * b as f64;
    if luminance > 140.0 {
        RGBColor(0, 0, 0)
    } else {
        RGBColor(255, 255, 255)
    }
}

/// Diverging map (ColorBrewer PuOr, colour-blind safe) for `t` in [-1, 1] (clamped): purple
/// below 0, white at 0, orange above.
pub(crate) fn diverging(t: f64) -> RGBColor {
    const LOW: (f64, f64, f64) = (84.0, 39.0, 136.0);
    const MID: (f64, f64, f64) = (247.0, 247.0, 247.0);
    const HIGH: (f64, f64, f64) = (179.0, 88.0, 6.0);
    let t = if t.is_finite() { t.clamp(-1.0, 1.0) } else { 0.0 };
    let (a, b, f) = if t < 0.0 { (MID, LOW, -t) } else { (MID, HIGH, t) };
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Grey, dashed in use: reference lines.
pub(crate) const REFERENCE: RGBColor = RGBColor(90, 90, 90);
/// Dark red: target lines (no series colour is red).
pub(crate) const TARGET: RGBColor = RGBColor(200, 0, 0);
