//! Sampling parameters and their allowed ranges, shared by the UI (which
//! refuses out-of-range input) and the server (which answers
//! `invalid_params`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::RangeInclusive;

/// Sampling parameters of a `chat` request. Absent fields mean "the
/// engine's default".
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Params {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

pub const TEMPERATURE: RangeInclusive<f32> = 0.0..=2.0;
pub const TOP_P: RangeInclusive<f32> = 0.0..=1.0;
pub const MAX_TOKENS: RangeInclusive<u32> = 1..=32_768;
pub const REPETITION_PENALTY: RangeInclusive<f32> = 0.5..=2.0;

/// A parameter outside its range.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamError {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ParamError {}

fn check_f32(
    field: &'static str,
    v: Option<f32>,
    r: &RangeInclusive<f32>,
) -> Result<(), ParamError> {
    match v {
        Some(x) if !x.is_finite() || !r.contains(&x) => Err(ParamError {
            field,
            message: format!("must be between {} and {}", r.start(), r.end()),
        }),
        _ => Ok(()),
    }
}

impl Params {
    /// Checks every present field against its range.
    pub fn validate(&self) -> Result<(), ParamError> {
        check_f32("temperature", self.temperature, &TEMPERATURE)?;
        check_f32("top_p", self.top_p, &TOP_P)?;
        check_f32(
            "repetition_penalty",
            self.repetition_penalty,
            &REPETITION_PENALTY,
        )?;
        if let Some(m) = self.max_tokens {
            if !MAX_TOKENS.contains(&m) {
                return Err(ParamError {
                    field: "max_tokens",
                    message: format!(
                        "must be between {} and {}",
                        MAX_TOKENS.start(),
                        MAX_TOKENS.end()
                    ),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_params_are_valid() {
        assert_eq!(Params::default().validate(), Ok(()));
    }

    #[test]
    fn bounds_are_inclusive() {
        let p = Params {
            temperature: Some(2.0),
            top_p: Some(0.0),
            max_tokens: Some(32_768),
            repetition_penalty: Some(0.5),
            seed: Some(1),
        };
        assert_eq!(p.validate(), Ok(()));
    }

    #[test]
    fn out_of_range_fields_are_named() {
        let cases = [
            (
                Params {
                    temperature: Some(2.01),
                    ..Default::default()
                },
                "temperature",
            ),
            (
                Params {
                    temperature: Some(f32::NAN),
                    ..Default::default()
                },
                "temperature",
            ),
            (
                Params {
                    top_p: Some(-0.1),
                    ..Default::default()
                },
                "top_p",
            ),
            (
                Params {
                    max_tokens: Some(0),
                    ..Default::default()
                },
                "max_tokens",
            ),
            (
                Params {
                    max_tokens: Some(32_769),
                    ..Default::default()
                },
                "max_tokens",
            ),
            (
                Params {
                    repetition_penalty: Some(3.0),
                    ..Default::default()
                },
                "repetition_penalty",
            ),
        ];
        for (p, field) in cases {
            assert_eq!(p.validate().unwrap_err().field, field, "{p:?}");
        }
    }
}
