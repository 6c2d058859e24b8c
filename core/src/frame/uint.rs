//! Unsigned integers of 1 to 8 bytes in either byte order: the length fields
//! of the length-prefixed codecs.

use super::ByteOrder;

/// The largest value an unsigned field of `n` bytes (1..=8) holds.
#[inline]
pub(crate) const fn uint_max(n: usize) -> u64 {
    if n >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * n)) - 1
    }
}

/// Reads `field` (1..=8 bytes) as an unsigned integer.
#[inline]
pub(crate) fn read_uint(field: &[u8], order: ByteOrder) -> u64 {
    let n = field.len();
    debug_assert!((1..=8).contains(&n));
    let mut raw = [0u8; 8];
    match order {
        ByteOrder::Big => {
            raw[8 - n..].copy_from_slice(field);
            u64::from_be_bytes(raw)
        }
        ByteOrder::Little => {
            raw[..n].copy_from_slice(field);
            u64::from_le_bytes(raw)
        }
    }
}

/// `value` as an `n`-byte field (1..=8), in the first `n` bytes of the
/// result. The caller has checked `value <= uint_max(n)`.
#[inline]
pub(crate) fn write_uint(value: u64, n: usize, order: ByteOrder) -> [u8; 8] {
    debug_assert!((1..=8).contains(&n) && value <= uint_max(n));
    let mut out = [0u8; 8];
    match order {
        ByteOrder::Big => out[..n].copy_from_slice(&value.to_be_bytes()[8 - n..]),
        ByteOrder::Little => out[..n].copy_from_slice(&value.to_le_bytes()[..n]),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_width_round_trips_its_largest_value_in_both_orders() {
        for n in 1..=8 {
            for order in [ByteOrder::Big, ByteOrder::Little] {
                let max = uint_max(n);
                let field = write_uint(max, n, order);
                assert_eq!(read_uint(&field[..n], order), max);
                assert!(field[n..].iter().all(|&b| b == 0));
            }
        }
    }

    #[test]
    fn three_byte_field_byte_order_is_respected() {
        assert_eq!(read_uint(&[0x01, 0x02, 0x03], ByteOrder::Big), 0x01_02_03);
        assert_eq!(
            read_uint(&[0x01, 0x02, 0x03], ByteOrder::Little),
            0x03_02_01
        );
        assert_eq!(&write_uint(0x01_02_03, 3, ByteOrder::Big)[..3], &[1, 2, 3]);
        assert_eq!(
            &write_uint(0x01_02_03, 3, ByteOrder::Little)[..3],
            &[3, 2, 1]
        );
    }
}
