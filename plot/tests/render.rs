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
