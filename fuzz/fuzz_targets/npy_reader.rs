#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| calibr8_fuzz::npy_reader(data));
