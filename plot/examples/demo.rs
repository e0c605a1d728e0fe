//! Writes a sample latency bar chart and speed-up heat-map (PNG + SVG) into a folder, to look at
//! the rendering: `cargo run --release -p calibr8-plot --example demo -- target/plot-demo`.

use calibr8_plot::{bar_chart, heatmap, BarChart, Heatmap, Series};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "target/plot-demo".into());
    std::fs::create_dir_all(&dir)?;
    let bars = BarChart {
        title: "Latency (median of 50 runs)".into(),
        categories: vec!["batch 1".into(), "batch 32".into()],
        series: vec![
            Series { name: "tract fp32".into(), values: vec![0.42, 9.8] },
            Series { name: "tract int8".into(), values: vec![0.31, 5.1] },
            Series { name: "tensorrt int8".into(), values: vec![f64::NAN, f64::NAN] },
        ],
        value_label: "latency (ms)".into(),
        horizontal: false,
        value_axis: calibr8_plot::ValueAxis::Zero,
        lines: vec![],
    };
    let layers = BarChart {
        title: "Per-layer error".into(),
        categories: vec![
            "features.0.conv".into(),
            "features.3.block.1.conv".into(),
            "classifier.fc".into(),
        ],
        series: vec![Series { name: "SQNR".into(), values: vec![31.2, 24.7, 18.3] }],
        value_label: "SQNR (dB)".into(),
        horizontal: true,
        value_axis: calibr8_plot::ValueAxis::Zero,
        lines: vec![],
    };
    let map = Heatmap {
        title: "Speed-up at batch 32".into(),
        rows: vec!["tract fp32".into(), "tract int8".into()],
        columns: vec!["tract fp32".into(), "tract int8".into()],
        values: vec![vec![1.0, 0.52], vec![1.92, 1.0]],
        value_label: "column latency ÷ row latency".into(),
        value_format: "{:.2}×".into(),
        colors: calibr8_plot::ColorScale::Sequential,
        empty: vec![],
    };
    for (name, out) in [
        ("latency", bar_chart(&bars)?),
        ("layers", bar_chart(&layers)?),
        ("speedup", heatmap(&map)?),
    ] {
        std::fs::write(format!("{dir}/{name}.png"), &out.png)?;
        std::fs::write(format!("{dir}/{name}.svg"), &out.svg)?;
    }
    println!("wrote {dir}/{{latency,layers,speedup}}.{{png,svg}}");
    Ok(())
}
