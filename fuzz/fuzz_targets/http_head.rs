//! The own HTTP/1.1 loop's reading of a connection's first bytes: the head parser
//! and the body framing it accepts. A request it takes whole must fit in what was
//! read, and no prefix of those bytes may already be a whole request of another
//! length (the loop and hyper would then disagree on where it ends).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_server::http::connection::{Framing, framing};

fuzz_target!(|input: &[u8]| {
    if let Framing::Hot { length, .. } = framing(input) {
        assert!(length <= input.len());
        assert_eq!(framing(&input[..length]), framing(input));
        if length > 0 {
            assert!(!matches!(
                framing(&input[..length - 1]),
                Framing::Hot { .. }
            ));
        }
    }
});
