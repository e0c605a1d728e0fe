//! Renders real charts and checks the pictures: PNG decodes to the promised size and shows the
//! series colours, SVG carries every label; bad input is an error.

use calibr8_plot::{
    bar_chart, bar_chart_size, heatmap, heatmap_size, BarChart, Heatmap, PlotError, Series,
};

/// Decodes a PNG into (width, height, RGB bytes).
fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("PNG frame");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn count_pixels(rgb: &[u8], colour: [u8; 3]) -> usize {
    rgb.chunks_exact(3).filter(|p| *p == colour).count()
}

fn latency_chart(horizontal: bool) -> BarChart {
    BarChart {
        title: "Latency of digits_cnn".into(),
        categories: vec!["batch 1".into(), "batch 32".into()],
        series: vec![
            Series { name: "tract fp32".into(), values: vec![0.25, 4.0] },
            Series { name: "tract int8".into(), values: vec![0.125, f64::NAN] },
        ],
        value_label: "latency (ms)".into(),
        horizontal,
        value_axis: calibr8_plot::ValueAxis::Zero,
        lines: vec![],
    }
}

#[test]
fn bar_chart_png_has_its_size_and_both_series_colours() {
    for horizontal in [false, true] {
        let chart = latency_chart(horizontal);
        let out = bar_chart(&chart).expect("renders");
        let (w, h, rgb) = decode(&out.png);
        assert_eq!((w, h), bar_chart_size(&chart));
        // Okabe–Ito blue and orange: series 0 and 1 (bars and legend swatches).
        let blue = count_pixels(&rgb, [0, 114, 178]);
        let orange = count_pixels(&rgb, [230, 159, 0]);
        assert!(blue > 500 && orange > 100, "blue {blue} orange {orange} px");
        // Series 0's batch-32 bar is 32× its batch-1 bar and series 1 has one bar, so blue ≫ orange.
        assert!(blue > 4 * orange, "blue {blue} orange {orange} px");
        // Text was drawn (dark anti-aliased glyph pixels), not only rectangles.
        let dark = rgb.chunks_exact(3).filter(|p| p.iter().all(|&c| c < 60)).count();
        assert!(dark > 200, "only {dark} dark pixels: no text?");
    }
}

#[test]
fn bar_chart_svg_carries_title_labels_values_and_legend() {
    let out = bar_chart(&latency_chart(false)).expect("renders");
    assert!(out.svg.starts_with("<svg"), "{}", &out.svg[..40]);
    for text in [
        "Latency of digits_cnn",
        "batch 1",
        "batch 32",
        "latency (ms)",
        "tract fp32",
        "tract int8",
        "0.250",
        "4.00",
        "0.125",
        "n/a",
    ] {
        assert!(out.svg.contains(text), "SVG lacks {text:?}");
    }
}

#[test]
fn single_series_has_no_legend_and_grows_with_categories() {
    let mut chart = latency_chart(false);
    chart.series.truncate(1);
    let narrow = bar_chart_size(&chart);
    chart.categories = (0..30).map(|i| format!("c{i}")).collect();
    chart.series[0].values = (0..30).map(|i| i as f64).collect();
    let wide = bar_chart_size(&chart);
    assert!(wide.0 > narrow.0);
    let out = bar_chart(&chart).expect("renders");
    assert!(!out.svg.contains("tract fp32"), "legend drawn for one series");
    assert_eq!(decode(&out.png).0, wide.0);
}

fn speedup_map() -> Heatmap {
    Heatmap {
        title: "Speed-up, batch 32".into(),
        rows: vec!["tract fp32".into(), "tract int8".into()],
        columns: vec!["tract fp32".into(), "tract int8".into(), "tensorrt int8".into()],
        values: vec![vec![1.0, 0.5, f64::NAN], vec![2.0, 1.0, f64::NAN]],
        value_label: "speed-up = column latency ÷ row latency".into(),
        value_format: "{:.2}×".into(),
        colors: calibr8_plot::ColorScale::Sequential,
        empty: vec![],
    }
}

#[test]
fn heatmap_png_has_its_size_with_grey_na_cells_and_svg_has_values() {
    let map = speedup_map();
    let out = heatmap(&map).expect("renders");
    let (w, h, rgb) = decode(&out.png);
    assert_eq!((w, h), heatmap_size(&map));
    // Two NaN cells in grey; the smallest value darkest viridis, the largest its bright end.
    assert!(count_pixels(&rgb, [200, 200, 200]) > 2 * 60 * 30, "n/a cells not grey");
    assert!(count_pixels(&rgb, [68, 1, 84]) > 60 * 30, "min cell not dark purple");
    assert!(count_pixels(&rgb, [253, 231, 37]) > 60 * 30, "max cell not yellow");
    for text in
        ["Speed-up, batch 32", "tensorrt int8", "0.50×", "2.00×", "1.00×", "n/a", "column latency"]
    {
        assert!(out.svg.contains(text), "SVG lacks {text:?}");
    }
}

#[test]
fn bad_input_is_an_error_naming_the_part() {
    let mut chart = latency_chart(false);
    chart.categories.clear();
    assert!(matches!(bar_chart(&chart), Err(PlotError::Empty { .. })));

    let mut chart = latency_chart(false);
    chart.series.clear();
    assert!(matches!(bar_chart(&chart), Err(PlotError::Empty { .. })));

    let mut chart = latency_chart(true);
    chart.series[1].values.pop();
    let err = bar_chart(&chart).expect_err("mismatch");
    assert!(err.to_string().contains("series \"tract int8\" has 1 values"), "{err}");

    let mut chart = latency_chart(false);
    chart.series[0].values[1] = f64::INFINITY;
    let err = bar_chart(&chart).expect_err("infinite");
    assert!(err.to_string().contains("category \"batch 32\""), "{err}");

    let mut map = speedup_map();
    map.values[1].push(3.0);
    let err = heatmap(&map).expect_err("mismatch");
    assert!(err.to_string().contains("row \"tract int8\" has 4 values"), "{err}");

    let mut map = speedup_map();
    map.values.pop();
    assert!(matches!(heatmap(&map), Err(PlotError::Mismatch { .. })));

    let mut map = speedup_map();
    map.columns.clear();
    map.values = vec![vec![], vec![]];
    assert!(matches!(heatmap(&map), Err(PlotError::Empty { .. })));

    let mut map = speedup_map();
    map.value_format = "{:.x}".into();
    assert!(matches!(heatmap(&map), Err(PlotError::BadFormat { .. })));

    let mut map = speedup_map();
    map.values[0][0] = f64::NEG_INFINITY;
    assert!(matches!(heatmap(&map), Err(PlotError::NonFinite { .. })));
}

fn first_row_with(rgb: &[u8], width: u32, colour: [u8; 3]) -> Option<usize> {
    rgb.chunks_exact(3).position(|p| p == colour).map(|i| i / width as usize)
}

// See: issue 14 — method bars started at 0 and hid differences of 0.27 points.
#[test]
fn issue_14_fit_axis_shows_small_differences() {
    let chart = |axis| BarChart {
        title: "top-1 per method".into(),
        categories: vec!["minmax".into(), "mse".into()],
        series: vec![Series { name: "all int8".into(), values: vec![98.06, 98.33] }],
        value_label: "top-1 accuracy (%)".into(),
        horizontal: false,
        value_axis: axis,
        lines: vec![],
    };
    let bar_px = |axis| {
        let (w, _, rgb) = decode(&bar_chart(&chart(axis)).expect("renders").png);
        // Bar tops: the first row holding the series colour, per half of the picture.
        let blue = [0u8, 114, 178];
        let mut tops = [usize::MAX; 2];
        for (i, p) in rgb.chunks_exact(3).enumerate() {
            if p == blue {
                let (x, y) = (i % w as usize, i / w as usize);
                let half = usize::from(x >= w as usize / 2);
                tops[half] = tops[half].min(y);
            }
        }
        tops
    };
    let zero = bar_px(calibr8_plot::ValueAxis::Zero);
    let fit = bar_px(calibr8_plot::ValueAxis::Fit);
    // From 0, 0.27 points are about one pixel; on a fitted axis, dozens.
    assert!(zero[0].abs_diff(zero[1]) <= 2, "{zero:?}");
    assert!(fit[0] > fit[1] + 40, "{fit:?}");
}

// See: issue 14 — the fp32 reference was a bar in the int8 colour; mixed_steps had no target.
#[test]
fn issue_14_reference_and_target_lines_have_their_own_colours_and_legend() {
    let chart = BarChart {
        title: "steps".into(),
        categories: vec!["0: all int8".into(), "1: +fc2 in fp32".into()],
        series: vec![Series { name: "whole model".into(), values: vec![37.4, 40.5] }],
        value_label: "SQNR (dB)".into(),
        horizontal: true,
        value_axis: calibr8_plot::ValueAxis::Fit,
        lines: vec![
            calibr8_plot::RefLine {
                label: "target: SQNR ≥ 40 dB".into(),
                value: 40.0,
                kind: calibr8_plot::LineKind::Target,
            },
            calibr8_plot::RefLine {
                label: "fp32 reference".into(),
                value: 38.0,
                kind: calibr8_plot::LineKind::Reference,
            },
        ],
    };
    let out = bar_chart(&chart).expect("renders");
    let (_, _, rgb) = decode(&out.png);
    assert!(count_pixels(&rgb, [200, 0, 0]) > 100, "no red target line");
    assert!(count_pixels(&rgb, [90, 90, 90]) > 100, "no grey reference line");
    assert!(out.svg.contains("target: SQNR ≥ 40 dB") && out.svg.contains("fp32 reference"));
    let mut bad = chart.clone();
    bad.lines[0].value = f64::INFINITY;
    assert!(bar_chart(&bad).unwrap_err().to_string().contains("target"));
}

// See: issue 14 — the layers_sqnr legend listed the series in the reverse of the bars.
#[test]
fn issue_14_horizontal_bars_follow_the_legend_order() {
    let chart = latency_chart(true);
    let (w, _, rgb) = decode(&bar_chart(&chart).expect("renders").png);
    let blue = first_row_with(&rgb, w, [0, 114, 178]).unwrap();
    let orange = first_row_with(&rgb, w, [230, 159, 0]).unwrap();
    // Legend swatches aside, the first series' bar of the first group is above the second's.
    assert!(blue < orange, "blue row {blue}, orange row {orange}");
}

// See: issue 14 — batch 1 (64 ms) and batch 32 (3,060 ms) on one linear axis.
#[test]
fn issue_14_log_axis_takes_decades_and_refuses_zero() {
    let mut chart = latency_chart(false);
    chart.value_axis = calibr8_plot::ValueAxis::Log;
    chart.series[0].values = vec![64.0, 3060.0];
    let out = bar_chart(&chart).expect("renders");
    assert!(out.svg.contains("3060") && out.svg.contains("64.0"));
    // Ticks at powers of ten are labelled with their values.
    let svg = text_lines(&out.svg);
    assert!(svg.contains(">100<") || svg.contains(">1000<"), "no decade ticks");
    chart.series[0].values = vec![0.0, 3060.0];
    let e = bar_chart(&chart).unwrap_err().to_string();
    assert!(e.contains("logarithmic"), "{e}");
}

// See: issue 14 — the speed-up map used viridis for ratios around 1×, no colour bar, and showed
// every pair twice.
#[test]
fn issue_14_diverging_speedup_map_is_centred_on_one_with_a_colour_bar() {
    let map = Heatmap {
        title: "speed-up".into(),
        rows: vec!["tract int8 · batch 1".into(), "tract int8-qdq · batch 1".into()],
        columns: vec!["tract fp32".into(), "tract int8".into()],
        values: vec![vec![4.0, 1.0], vec![0.25, 1.0]],
        value_label: "column latency ÷ row latency".into(),
        value_format: "{:.2}×".into(),
        colors: calibr8_plot::ColorScale::Diverging { center: 1.0 },
        empty: vec![(0, 1)],
    };
    let out = heatmap(&map).expect("renders");
    let (w, h, rgb) = decode(&out.png);
    assert_eq!((w, h), heatmap_size(&map));
    // 4× and 1/4× are the ends of the scale: full orange and full purple cells.
    assert!(count_pixels(&rgb, [179, 88, 6]) > 60 * 30, "4× cell not orange");
    assert!(count_pixels(&rgb, [84, 39, 136]) > 60 * 30, "0.25× cell not purple");
    // The empty cell has no text; the colour bar has 1-2-5 ticks within [1/4, 4].
    assert!(out.svg.contains("4.00×") && out.svg.contains("0.25×"));
    let svg = text_lines(&out.svg);
    assert!(svg.contains(">0.50×<") && svg.contains(">2.00×<"), "colour-bar ticks");
    assert_eq!(svg.matches(">1.00×<").count(), 2, "one 1× cell + the centre tick");
    let mut bad = map.clone();
    bad.values[1][0] = 0.0;
    assert!(heatmap(&bad).is_err());
}

/// The SVG with each `<text>` element's content on its tag's line (plotters writes it on a line
/// of its own), so a label reads `>100<`.
fn text_lines(svg: &str) -> String {
    svg.replace(">\n", ">").replace("\n</text>", "</text>")
}
