//! The README's library snippet is `examples/library.rs`, which `cargo test` compiles, so the
//! snippet compiles when pasted. See: https://github.com/calibr8/calibr8/issues/9

#[test]
fn readme_library_snippet_is_the_compiled_example() {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    let example = std::fs::read_to_string("examples/library.rs").expect("examples/library.rs");
    let block = format!("```rust\n{example}```\n");
    assert!(
        readme.contains(&block),
        "README.md must hold examples/library.rs verbatim in a ```rust block (## Library)"
    );
}
