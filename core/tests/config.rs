//! `QuantConfig` files and the builder: every spelling of the method, the removed parameter
//! keys, and validation.
//! See: https://github.com/calibr8/calibr8/issues/9

use calibr8_calibration::{HistogramMode, Method, MethodKind};
use calibr8_core::{ConfigRule, Error, QuantConfig};
use std::path::PathBuf;

/// Writes `text` to `name` in a fresh folder and loads it.
fn load(name: &str, text: &str) -> (tempfile::TempDir, Result<QuantConfig, Error>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path: PathBuf = dir.path().join(name);
    std::fs::write(&path, text).expect("write");
    let config = QuantConfig::load(&path);
    (dir, config)
}

#[test]
fn issue_9_the_method_parameter_in_a_config_file_is_the_one_that_runs() {
    // Before: `percentile` / `ema_decay` fields (defaults 99.99 / 0.99) overwrote the parameter
    // written in `method`, so these files ran 99.99 and 0.99.
    let cases = [
        ("c.yaml", "method: percentile:90\n", Method::Percentile { percentile: 90.0 }),
        ("c.yaml", "method: \"percentile:90\"\n", Method::Percentile { percentile: 90.0 }),
        ("c.yaml", "method: {percentile: 90}\n", Method::Percentile { percentile: 90.0 }),
        ("c.yml", "method:\n  percentile: 90\n", Method::Percentile { percentile: 90.0 }),
        ("c.json", r#"{"method": "percentile:90"}"#, Method::Percentile { percentile: 90.0 }),
        ("c.json", r#"{"method": {"percentile": 90}}"#, Method::Percentile { percentile: 90.0 }),
        ("c.yaml", "method: ema:0.5\n", Method::EmaMinMax { decay: 0.5 }),
        ("c.json", r#"{"method": {"ema": 0.5}}"#, Method::EmaMinMax { decay: 0.5 }),
        ("c.yaml", "method: percentile\n", Method::Percentile { percentile: 99.99 }),
        ("c.yaml", "weight_method: percentile:99.9\n", Method::Entropy),
    ];
    for (name, text, want) in cases {
        let (_dir, config) = load(name, text);
        let config = config.unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(config.method, want, "{text}");
        // What quantize() hands the observers.
        assert_eq!(config.activation_method().expect("valid"), want, "{text}");
    }
    let (_dir, config) = load("c.yaml", "weight_method: percentile:99.9\n");
    assert_eq!(
        config.expect("loads").weight_method().expect("valid"),
        Method::Percentile { percentile: 99.9 }
    );
}

#[test]
fn every_method_spelling_loads_from_yaml_and_json() {
    for kind in MethodKind::ALL {
        let name = kind.name();
        let default = kind.default_method();
        for (file, text) in [
            ("c.yaml", format!("method: {name}\n")),
            ("c.json", format!(r#"{{"method": "{name}"}}"#)),
            ("c.yaml", format!("method: {{{name}: null}}\n")),
            ("c.json", format!(r#"{{"method": {{"{name}": null}}}}"#)),
        ] {
            let (_dir, config) = load(file, &text);
            assert_eq!(config.unwrap_or_else(|e| panic!("{text}: {e}")).method, default, "{text}");
        }
        if let Some(p) = kind.parameter() {
            let value = if p.name == "decay" { 0.9 } else { 99.9 };
            let want = kind.with_parameter(Some(value)).expect("valid");
            for (file, text) in [
                ("c.yaml", format!("method: {name}:{value}\n")),
                ("c.yaml", format!("method: {{{name}: {value}}}\n")),
                ("c.json", format!(r#"{{"method": "{name}:{value}"}}"#)),
                ("c.json", format!(r#"{{"method": {{"{name}": {value}}}}}"#)),
            ] {
                let (_dir, config) = load(file, &text);
                assert_eq!(config.unwrap_or_else(|e| panic!("{text}: {e}")).method, want, "{text}");
            }
        }
    }
}

#[test]
fn the_removed_parameter_keys_are_refused_with_the_spelling_that_replaces_them() {
    let cases = [
        ("c.yaml", "method: percentile\npercentile: 90\n", "method: percentile:90"),
        ("c.json", r#"{"method": "percentile:90", "percentile": 99.9}"#, "method: percentile:99.9"),
        ("c.yaml", "method: ema\nema_decay: 0.5\n", "method: ema:0.5"),
    ];
    for (name, text, remedy) in cases {
        let (_dir, config) = load(name, text);
        let e = config.expect_err(text).to_string();
        assert!(e.contains(remedy) && e.contains(name), "{text}: {e}");
    }
}

#[test]
fn bad_methods_in_files_name_the_file_and_the_remedy() {
    let cases = [
        ("c.yaml", "method: percentile:150\n", "(0, 100]"),
        ("c.json", r#"{"method": {"ema": 2}}"#, "(0, 1)"),
        ("c.yaml", "method: kl\n", "unknown calibration method `kl`"),
        ("c.yaml", "method: entropy:3\n", "takes no parameter"),
    ];
    for (name, text, needle) in cases {
        let (_dir, config) = load(name, text);
        let e = config.expect_err(text).to_string();
        assert!(e.contains(needle) && e.contains(name), "{text}: {e}");
    }
}

#[test]
fn serialization_writes_the_canonical_method_string_and_reads_back() {
    let config = QuantConfig::builder()
        .method(Method::Percentile { percentile: 99.9 })
        .weight_method(Method::EmaMinMax { decay: 0.99 })
        .build()
        .expect("valid");
    let yaml = yaml_serde::to_string(&config).expect("yaml");
    assert!(yaml.contains("method: percentile:99.9\n"), "{yaml}");
    assert!(yaml.contains("weight_method: ema\n"), "{yaml}");
    assert!(!yaml.contains("ema_decay") && !yaml.contains("\npercentile"), "{yaml}");
    assert_eq!(yaml_serde::from_str::<QuantConfig>(&yaml).expect("back"), config);
    let json = serde_json::to_string(&config).expect("json");
    assert!(json.contains(r#""method":"percentile:99.9""#), "{json}");
    assert_eq!(serde_json::from_str::<QuantConfig>(&json).expect("back"), config);
}

#[test]
fn the_builder_starts_from_the_preset_appends_rules_and_validates() {
    let exclude = ConfigRule { exclude_op_names: vec!["fc2".into()], ..ConfigRule::default() };
    let config = QuantConfig::builder()
        .method(Method::Mse)
        .histogram(HistogramMode::TwoPass)
        .num_bins(4096)
        .rule(exclude.clone())
        .build()
        .expect("valid");
    let preset = QuantConfig::default();
    assert_eq!(config.method, Method::Mse);
    assert_eq!(config.weight_method, preset.weight_method);
    assert_eq!(config.histogram, HistogramMode::TwoPass);
    assert_eq!(config.num_bins, 4096);
    assert_eq!(config.config_list, [preset.config_list[0].clone(), exclude.clone()]);

    let replaced = QuantConfig::builder().rules([exclude.clone()]).build().expect("valid");
    assert_eq!(replaced.config_list, [exclude]);
    assert_eq!(QuantConfig::builder().build().expect("valid"), preset);

    let e = QuantConfig::builder()
        .method(Method::Percentile { percentile: 0.0 })
        .build()
        .expect_err("percentile 0");
    assert!(matches!(&e, Error::Config { option, .. } if option == "method"), "{e:?}");
    assert!(e.to_string().contains("(0, 100]"), "{e}");
    let e = QuantConfig::builder()
        .weight_method(Method::EmaMinMax { decay: 1.0 })
        .build()
        .expect_err("decay 1");
    assert!(matches!(&e, Error::Config { option, .. } if option == "weight_method"), "{e:?}");
    let e = QuantConfig::builder().num_bins(64).build().expect_err("64 bins");
    assert!(matches!(&e, Error::Config { option, .. } if option == "num_bins"), "{e:?}");
    let bad_rule = ConfigRule { op_types: vec!["Conv9d".into()], ..ConfigRule::default() };
    let e = QuantConfig::builder().rule(bad_rule).build().expect_err("unknown op type");
    assert!(e.to_string().contains("config_list[1].op_types"), "{e}");
}
