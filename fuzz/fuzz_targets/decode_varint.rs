#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| castnet_fuzz::targets::decode_varint(data));
