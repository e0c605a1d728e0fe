//! Errors print each cause once: a source is not repeated in the message that carries it.
//! See: https://github.com/calibr8/calibr8/issues/9

use calibr8_core::QuantConfig;
use std::error::Error as _;

#[test]
fn issue_9_io_errors_do_not_print_their_source_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.yaml");
    let e = QuantConfig::load(&missing).expect_err("missing file");
    let shown = e.to_string();
    let source = e.source().expect("the OS error is the source").to_string();
    assert!(shown.starts_with("reading ") && shown.contains("missing.yaml"), "{shown}");
    assert!(!shown.contains(&source), "'{shown}' repeats its source '{source}'");
}
