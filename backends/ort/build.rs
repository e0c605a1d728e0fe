//! Passes the target triple to the tests, which compile fake `libonnxruntime.so` files with `cc`.
fn main() {
    println!("cargo:rerun-if-env-changed=TARGET");
    if let Ok(target) = std::env::var("TARGET") {
        println!("cargo:rustc-env=CALIBR8_ORT_TARGET={target}");
    }
}
