//! Every spelling of a [`Method`] that serde and `FromStr` accept, in JSON and YAML, and the one
//! form serialization writes.

use calibr8_calibration::{Method, MethodKind, ObserverConfig};

/// (spelling as a JSON value, as a YAML value, expected method)
fn spellings() -> Vec<(&'static str, &'static str, Method)> {
    vec![
        (r#""minmax""#, "minmax", Method::MinMax),
        (r#""max""#, "max", Method::MinMax),
        (r#""entropy""#, "entropy", Method::Entropy),
        (r#""MSE""#, "MSE", Method::Mse),
        (r#""percentile""#, "percentile", Method::Percentile { percentile: 99.99 }),
        (r#""percentile:90""#, "percentile:90", Method::Percentile { percentile: 90.0 }),
        (r#""percentile: 99.9""#, r#""percentile: 99.9""#, Method::Percentile { percentile: 99.9 }),
        (r#"{"percentile": 99.9}"#, "{percentile: 99.9}", Method::Percentile { percentile: 99.9 }),
        (r#"{"percentile": 90}"#, "percentile: 90", Method::Percentile { percentile: 90.0 }),
        (r#"{"percentile": null}"#, "{percentile: null}", Method::Percentile { percentile: 99.99 }),
        (r#""ema""#, "ema", Method::EmaMinMax { decay: 0.99 }),
        (r#""ema_minmax""#, "ema_minmax", Method::EmaMinMax { decay: 0.99 }),
        (r#""ema:0.5""#, "ema:0.5", Method::EmaMinMax { decay: 0.5 }),
        (r#"{"ema": 0.5}"#, "{ema: 0.5}", Method::EmaMinMax { decay: 0.5 }),
        (r#"{"entropy": null}"#, "{entropy: null}", Method::Entropy),
    ]
}

#[test]
fn every_spelling_parses_in_json_and_yaml() {
    for (json, yaml, want) in spellings() {
        let got: Method = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(got, want, "JSON {json}");
        let got: Method = yaml_serde::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
        assert_eq!(got, want, "YAML {yaml}");
    }
}

#[test]
fn string_spellings_parse_with_from_str() {
    for (_, yaml, want) in spellings() {
        if !yaml.starts_with('{') && !yaml.contains(": ") {
            assert_eq!(yaml.parse::<Method>(), Ok(want), "{yaml}");
        }
    }
}

#[test]
fn serialization_writes_the_canonical_string() {
    let cases = [
        (Method::MinMax, "minmax"),
        (Method::EmaMinMax { decay: 0.99 }, "ema"),
        (Method::EmaMinMax { decay: 0.5 }, "ema:0.5"),
        (Method::Percentile { percentile: 99.99 }, "percentile"),
        (Method::Percentile { percentile: 90.0 }, "percentile:90"),
        (Method::Percentile { percentile: 99.9 }, "percentile:99.9"),
        (Method::Entropy, "entropy"),
        (Method::Mse, "mse"),
    ];
    for (method, canonical) in cases {
        assert_eq!(method.to_string(), canonical);
        assert_eq!(serde_json::to_string(&method).expect("json"), format!("\"{canonical}\""));
        assert_eq!(yaml_serde::to_string(&method).expect("yaml").trim(), canonical);
        // And back.
        let back: Method = serde_json::from_str(&format!("\"{canonical}\"")).expect("json");
        assert_eq!(back, method);
    }
}

#[test]
fn every_kind_round_trips_through_serde() {
    for kind in MethodKind::ALL {
        let m = kind.default_method();
        let json = serde_json::to_string(&m).expect("json");
        assert_eq!(serde_json::from_str::<Method>(&json).expect("back"), m);
        let config = ObserverConfig::new(m.clone()).per_channel(1);
        let yaml = yaml_serde::to_string(&config).expect("yaml");
        assert_eq!(yaml_serde::from_str::<ObserverConfig>(&yaml).expect("back"), config);
    }
}

#[test]
fn bad_spellings_are_errors_that_say_what_to_write() {
    let cases = [
        (r#""percentile:150""#, "(0, 100]"),
        (r#"{"percentile": 150}"#, "(0, 100]"),
        (r#""ema:1""#, "(0, 1)"),
        (r#"{"ema": 0}"#, "(0, 1)"),
        (r#""entropy:3""#, "takes no parameter"),
        (r#"{"mse": 3}"#, "takes no parameter"),
        (r#""kl""#, "unknown calibration method `kl`"),
        (r#"{"kl": 1}"#, "unknown calibration method `kl`"),
        (r#"{"percentile": 99, "ema": 0.9}"#, "second key `ema`"),
        (r#"{}"#, "empty method map"),
        (r#"{"percentile": "high"}"#, "invalid type"),
        ("7", "a calibration method"),
    ];
    for (json, needle) in cases {
        let e = serde_json::from_str::<Method>(json).expect_err(json).to_string();
        assert!(e.contains(needle), "{json}: {e}");
    }
    let e = yaml_serde::from_str::<Method>("percentile:abc").expect_err("yaml").to_string();
    assert!(e.contains("`abc` is not a number"), "{e}");
}
