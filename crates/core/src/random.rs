//! The one place tessera draws randomness: the operating system's CSPRNG.

/// Fills `buf` from the OS CSPRNG. If the OS cannot supply randomness, tessera must not
/// mint a guessable token, so this aborts the operation by panicking (the panic carries
/// no secret: the buffer is never printed).
#[expect(
    clippy::panic,
    reason = "without randomness no token may be minted: failing the operation is the safe answer"
)]
pub fn fill(buf: &mut [u8]) {
    if let Err(error) = getrandom::fill(buf) {
        panic!("the operating system's random number generator failed: {error}");
    }
}

/// A random identifier such as `tok_3kTq9ZbX0aLm7Yw2` (16 base62 chars, about 95 bits).
pub fn identifier(kind: &str) -> String {
    format!("{kind}_{}", crate::base62::random_string(16))
}
