//! Whole numbers read from JSON the way JSON Schema counts them: `600` and `600.0` are the same
//! integer, so a settings form that sends numbers as floats is not refused for it.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// `#[serde(deserialize_with = "whole_number::u32")]`: a u32 given as an integer or as a float
/// with no fractional part; anything else is refused with the usual serde message.
pub fn u32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    deserializer.deserialize_any(WholeU32)
}

struct WholeU32;

impl Visitor<'_> for WholeU32 {
    type Value = u32;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a whole number from 0 to 4294967295")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u32, E> {
        u32::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u32, E> {
        u32::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u32, E> {
        if v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) {
            // Exact: a whole f64 in u32's range converts without loss.
            Ok(v as u32)
        } else {
            Err(E::invalid_value(de::Unexpected::Float(v), &self))
        }
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct N {
        #[serde(deserialize_with = "super::u32")]
        n: u32,
    }

    fn read(json: &str) -> Result<u32, String> {
        serde_json::from_str::<N>(json).map(|v| v.n).map_err(|e| e.to_string())
    }

    #[test]
    fn integers_and_whole_floats_are_the_same_number() {
        assert_eq!(read(r#"{"n": 600}"#), Ok(600));
        assert_eq!(read(r#"{"n": 600.0}"#), Ok(600));
        assert_eq!(read(r#"{"n": 0}"#), Ok(0));
    }

    #[test]
    fn fractions_negatives_overflow_and_text_are_refused() {
        for bad in [r#"{"n": 600.5}"#, r#"{"n": -1}"#, r#"{"n": -1.0}"#, r#"{"n": 4294967296}"#, r#"{"n": 1e300}"#, r#"{"n": "600"}"#, r#"{"n": null}"#] {
            assert!(read(bad).is_err(), "{bad} was accepted");
        }
    }
}
