//! Base62 (`0-9A-Za-z`): URL-, header- and shell-safe, and selectable with a double click.
//!
//! Hand-written because it is twenty lines on the token hot path, and the crates that
//! exist encode big integers rather than fixed-width fields.

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Marks a byte that is not a base62 digit in [`VALUES`].
const NOT_A_DIGIT: u8 = 0xFF;

/// Each byte's digit value, or [`NOT_A_DIGIT`]. A table rather than `match` on the
/// three ranges: token characters are random, so range checks mispredict a branch on
/// nearly every byte, and checking a token's 36 characters cost about 50 ns that way.
const VALUES: [u8; 256] = {
    let mut table = [NOT_A_DIGIT; 256];
    let mut digit = 0;
    while digit < ALPHABET.len() {
        table[ALPHABET[digit] as usize] = digit as u8;
        digit += 1;
    }
    table
};

pub fn is_digit(byte: u8) -> bool {
    VALUES[usize::from(byte)] != NOT_A_DIGIT
}

/// True when every byte of `text` is a base62 digit. Looks at all of them without
/// stopping early, so the loop has no data-dependent branch.
pub fn all_digits(text: &[u8]) -> bool {
    text.iter()
        .fold(0u8, |seen, &byte| seen | (VALUES[usize::from(byte)] & 0x80))
        == 0
}

fn value(byte: u8) -> Option<u64> {
    let value = VALUES[usize::from(byte)];
    (value != NOT_A_DIGIT).then_some(u64::from(value))
}

/// `number` as exactly `width` digits, most significant first, zero-padded.
pub fn encode_fixed(mut number: u64, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    for slot in digits.iter_mut().rev() {
        *slot = ALPHABET[(number % 62) as usize];
        number /= 62;
    }
    digits.into_iter().map(char::from).collect()
}

/// The number a run of base62 digits spells, or `None` on a foreign character or overflow.
pub fn decode(text: &str) -> Option<u64> {
    text.bytes().try_fold(0u64, |acc, byte| {
        acc.checked_mul(62)?.checked_add(value(byte)?)
    })
}

/// `len` uniformly random base62 characters from the OS CSPRNG.
pub fn random_string(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut pool = [0u8; 64];
    while out.len() < len {
        crate::random::fill(&mut pool);
        // Rejection sampling: 248 = 4 * 62, so bytes below it map to digits without bias.
        for &byte in pool.iter().filter(|&&b| b < 248) {
            if out.len() == len {
                break;
            }
            out.push(char::from(ALPHABET[usize::from(byte % 62)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fixed_width_round_trips(number in 0u64..=u64::from(u32::MAX)) {
            let text = encode_fixed(number, 6);
            prop_assert_eq!(text.len(), 6);
            prop_assert_eq!(decode(&text), Some(number));
        }
    }

    #[test]
    fn random_strings_use_the_whole_alphabet() {
        let sample: String = (0..50).map(|_| random_string(30)).collect();
        let distinct: std::collections::HashSet<char> = sample.chars().collect();
        assert!(distinct.len() > 55, "{}", distinct.len());
        assert!(sample.bytes().all(is_digit));
    }

    #[test]
    fn the_table_agrees_with_the_alphabet() {
        for byte in 0..=u8::MAX {
            assert_eq!(is_digit(byte), byte.is_ascii_alphanumeric(), "{byte}");
            assert_eq!(
                all_digits(&[b'a', byte, b'Z']),
                byte.is_ascii_alphanumeric()
            );
        }
        assert!(all_digits(ALPHABET));
        assert_eq!(decode("10"), Some(62));
        assert_eq!(decode("z"), Some(61));
    }

    #[test]
    fn foreign_characters_do_not_decode() {
        assert_eq!(decode("ab-c"), None);
        assert_eq!(decode("zzzzzzzzzzzzzzzz"), None);
    }
}
