#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| castnet_fuzz::targets::session_ops(data));
