//! Cargo resolves a package's build-dependencies only when it has a build script; the hack's
//! build-dependencies set the features of crates used by proc-macros (syn).
fn main() {}
