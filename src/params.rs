//! The parameter controls' input rules: text typed into a control becomes a
//! value in range or a message saying why not.

use chatwire_protocol::{Params, MAX_TOKENS, REPETITION_PENALTY, TEMPERATURE, TOP_P};
use std::ops::RangeInclusive;

use crate::i18n::tr;

/// The raw text of each control, as typed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ParamInputs {
    pub temperature: String,
    pub top_p: String,
    pub max_tokens: String,
    /// Optional: empty means "not sent".
    pub repetition_penalty: String,
    /// Sent first, as a system message, where the backend takes one
    /// (empty: none).
    #[serde(default)]
    pub system_prompt: String,
}

impl Default for ParamInputs {
    fn default() -> Self {
        Self {
            temperature: "0.7".into(),
            top_p: "0.9".into(),
            max_tokens: "512".into(),
            repetition_penalty: String::new(),
            system_prompt: String::new(),
        }
    }
}

pub fn parse_f32(raw: &str, range: &RangeInclusive<f32>) -> Result<f32, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(tr("required", "必填").into());
    }
    // f64 to f32 rounds twice; exact for the ≤ 7 significant digits a
    // control holds (decimal.rs tests it against core's f32 parser).
    match crate::decimal::parse(raw).map(|v| v as f32).ok_or(()) {
        Ok(v) if v.is_finite() && range.contains(&v) => Ok(v),
        Ok(_) => Err(trf!(
            "between {} and {}",
            " {} 到 {} 之间的数",
            range.start(),
            range.end()
        )),
        Err(_) => Err(tr("not a number", "不是数字").into()),
    }
}

pub fn parse_u32(raw: &str, range: &RangeInclusive<u32>) -> Result<u32, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(tr("required", "必填").into());
    }
    match raw.parse::<u64>() {
        Ok(v) if v >= u64::from(*range.start()) && v <= u64::from(*range.end()) => {
            u32::try_from(v).map_err(|_| tr("too large", "太大").into())
        }
        Ok(_) => Err(trf!(
            "a whole number between {} and {}",
            " {} 到 {} 之间的整数",
            range.start(),
            range.end()
        )),
        Err(_) => Err(tr("a whole number", "整数").into()),
    }
}

/// The ranges the controls accept: the protocol's, or narrower ones from
/// the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamLimits {
    pub temperature: RangeInclusive<f32>,
    pub top_p: RangeInclusive<f32>,
    pub max_tokens: RangeInclusive<u32>,
    pub repetition_penalty: RangeInclusive<f32>,
}

impl Default for ParamLimits {
    fn default() -> Self {
        Self {
            temperature: TEMPERATURE,
            top_p: TOP_P,
            max_tokens: MAX_TOKENS,
            repetition_penalty: REPETITION_PENALTY,
        }
    }
}

impl ParamInputs {
    pub fn temperature(&self, l: &ParamLimits) -> Result<f32, String> {
        parse_f32(&self.temperature, &l.temperature)
    }

    pub fn top_p(&self, l: &ParamLimits) -> Result<f32, String> {
        parse_f32(&self.top_p, &l.top_p)
    }

    pub fn max_tokens(&self, l: &ParamLimits) -> Result<u32, String> {
        parse_u32(&self.max_tokens, &l.max_tokens)
    }

    pub fn repetition_penalty(&self, l: &ParamLimits) -> Result<Option<f32>, String> {
        if self.repetition_penalty.trim().is_empty() {
            return Ok(None);
        }
        parse_f32(&self.repetition_penalty, &l.repetition_penalty).map(Some)
    }

    /// The parameters for a request, or the first control that is invalid.
    pub fn to_params(&self, l: &ParamLimits) -> Result<Params, String> {
        let temperature = self
            .temperature(l)
            .map_err(|e| format!("temperature: {e}"))?;
        let top_p = self.top_p(l).map_err(|e| format!("top_p: {e}"))?;
        let max_tokens = self.max_tokens(l).map_err(|e| format!("max_tokens: {e}"))?;
        let repetition_penalty = self
            .repetition_penalty(l)
            .map_err(|e| format!("repetition_penalty: {e}"))?;
        Ok(Params {
            temperature: Some(temperature),
            top_p: Some(top_p),
            max_tokens: Some(max_tokens),
            repetition_penalty,
            seed: None,
        })
    }
}

/// One parameter control: what the panel needs to render and bind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Temperature,
    TopP,
    MaxTokens,
    RepetitionPenalty,
}

impl Field {
    pub const ALL: [Field; 4] = [
        Field::Temperature,
        Field::TopP,
        Field::MaxTokens,
        Field::RepetitionPenalty,
    ];

    /// The control's `data-testid`.
    pub fn test_id(self) -> &'static str {
        match self {
            Field::Temperature => "temperature",
            Field::TopP => "top-p",
            Field::MaxTokens => "max-tokens",
            Field::RepetitionPenalty => "repetition-penalty",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Field::Temperature => tr("Temperature", "温度"),
            Field::TopP => tr("Top p", "Top p（核采样）"),
            Field::MaxTokens => tr("Max tokens", "最大生成长度"),
            Field::RepetitionPenalty => tr("Repetition penalty", "重复惩罚"),
        }
    }

    /// The name in configuration and URL parameters.
    pub fn key(self) -> &'static str {
        match self {
            Field::Temperature => "temperature",
            Field::TopP => "top_p",
            Field::MaxTokens => "max_tokens",
            Field::RepetitionPenalty => "repetition_penalty",
        }
    }

    /// `(min, max, step)` for the input element.
    pub fn bounds(self, l: &ParamLimits) -> (String, String, &'static str) {
        let f = |r: &RangeInclusive<f32>| (r.start().to_string(), r.end().to_string());
        let ((min, max), step) = match self {
            Field::Temperature => (f(&l.temperature), "0.1"),
            Field::TopP => (f(&l.top_p), "0.05"),
            Field::MaxTokens => (
                (
                    l.max_tokens.start().to_string(),
                    l.max_tokens.end().to_string(),
                ),
                "1",
            ),
            Field::RepetitionPenalty => (f(&l.repetition_penalty), "0.05"),
        };
        (min, max, step)
    }

    pub fn get(self, p: &ParamInputs) -> &str {
        match self {
            Field::Temperature => &p.temperature,
            Field::TopP => &p.top_p,
            Field::MaxTokens => &p.max_tokens,
            Field::RepetitionPenalty => &p.repetition_penalty,
        }
    }

    pub fn set(self, p: &mut ParamInputs, value: String) {
        match self {
            Field::Temperature => p.temperature = value,
            Field::TopP => p.top_p = value,
            Field::MaxTokens => p.max_tokens = value,
            Field::RepetitionPenalty => p.repetition_penalty = value,
        }
    }

    /// Why the current text is refused, if it is.
    pub fn problem(self, p: &ParamInputs, l: &ParamLimits) -> Option<String> {
        match self {
            Field::Temperature => p.temperature(l).err(),
            Field::TopP => p.top_p(l).err(),
            Field::MaxTokens => p.max_tokens(l).err(),
            Field::RepetitionPenalty => p.repetition_penalty(l).err(),
        }
    }

    /// The protocol's own range for the field (configured ranges must lie
    /// within it), as `f64` for checking configuration.
    pub fn protocol_range(self) -> RangeInclusive<f64> {
        let f = |r: RangeInclusive<f32>| f64::from(*r.start())..=f64::from(*r.end());
        match self {
            Field::Temperature => f(TEMPERATURE),
            Field::TopP => f(TOP_P),
            Field::MaxTokens => f64::from(*MAX_TOKENS.start())..=f64::from(*MAX_TOKENS.end()),
            Field::RepetitionPenalty => f(REPETITION_PENALTY),
        }
    }

    /// Narrows `l` for this field to `min..=max` (already checked).
    pub fn set_range(self, l: &mut ParamLimits, min: f64, max: f64) {
        match self {
            Field::Temperature => l.temperature = min as f32..=max as f32,
            Field::TopP => l.top_p = min as f32..=max as f32,
            Field::MaxTokens => l.max_tokens = min as u32..=max as u32,
            Field::RepetitionPenalty => l.repetition_penalty = min as f32..=max as f32,
        }
    }

    /// Optional fields may be left empty (then they are not sent).
    pub fn optional(self) -> bool {
        self == Field::RepetitionPenalty
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_bind_their_own_input() {
        let mut p = ParamInputs::default();
        for f in Field::ALL {
            f.set(&mut p, String::new());
            assert_eq!(
                f.problem(&p, &ParamLimits::default()).is_none(),
                f.optional(),
                "{f:?}"
            );
            f.set(&mut p, "x".into());
            assert_eq!(f.get(&p), "x");
            assert!(f.problem(&p, &ParamLimits::default()).is_some(), "{f:?}");
        }
        assert_eq!(Field::TopP.test_id(), "top-p");
    }

    #[test]
    fn defaults_are_valid() {
        let p = ParamInputs::default()
            .to_params(&ParamLimits::default())
            .unwrap();
        assert_eq!(p.temperature, Some(0.7));
        assert_eq!(p.top_p, Some(0.9));
        assert_eq!(p.max_tokens, Some(512));
        assert_eq!(p.repetition_penalty, None);
        assert_eq!(p.validate(), Ok(()));
    }

    #[test]
    fn out_of_range_and_garbage_are_refused() {
        let bad = |t: &str, p: &str, m: &str| {
            ParamInputs {
                temperature: t.into(),
                top_p: p.into(),
                max_tokens: m.into(),
                repetition_penalty: String::new(),
                system_prompt: String::new(),
            }
            .to_params(&ParamLimits::default())
            .unwrap_err()
        };
        assert!(bad("2.5", "0.9", "10").starts_with("temperature"));
        assert!(bad("-0.1", "0.9", "10").starts_with("temperature"));
        assert!(bad("abc", "0.9", "10").starts_with("temperature"));
        assert!(bad("NaN", "0.9", "10").starts_with("temperature"));
        assert!(bad("1", "1.01", "10").starts_with("top_p"));
        assert!(bad("1", "0.5", "0").starts_with("max_tokens"));
        assert!(bad("1", "0.5", "32769").starts_with("max_tokens"));
        assert!(bad("1", "0.5", "12.5").starts_with("max_tokens"));
        assert!(bad("1", "0.5", "99999999999999999999").starts_with("max_tokens"));
        assert!(bad("1", "0.5", "").starts_with("max_tokens"));
    }

    #[test]
    fn configured_ranges_narrow_the_controls() {
        let mut l = ParamLimits::default();
        Field::Temperature.set_range(&mut l, 0.0, 1.0);
        Field::MaxTokens.set_range(&mut l, 16.0, 1024.0);
        let p = ParamInputs {
            temperature: "1.5".into(),
            ..ParamInputs::default()
        };
        assert_eq!(
            Field::Temperature.problem(&p, &l).unwrap(),
            "between 0 and 1"
        );
        assert!(Field::Temperature
            .problem(&p, &ParamLimits::default())
            .is_none());
        assert_eq!(
            Field::MaxTokens.bounds(&l),
            ("16".to_string(), "1024".to_string(), "1")
        );
        assert_eq!(l.max_tokens, 16..=1024);
        assert_eq!(Field::TopP.protocol_range(), 0.0..=1.0);
    }

    #[test]
    fn bounds_and_whitespace_are_accepted() {
        let p = ParamInputs {
            temperature: " 2 ".into(),
            top_p: "0".into(),
            max_tokens: "32768".into(),
            repetition_penalty: "1.1".into(),
            system_prompt: String::new(),
        }
        .to_params(&ParamLimits::default())
        .unwrap();
        assert_eq!(
            (p.temperature, p.top_p, p.max_tokens, p.repetition_penalty),
            (Some(2.0), Some(0.0), Some(32768), Some(1.1))
        );
        let bad = ParamInputs {
            repetition_penalty: "3".into(),
            ..ParamInputs::default()
        };
        assert!(bad
            .to_params(&ParamLimits::default())
            .unwrap_err()
            .starts_with("repetition_penalty"));
    }
}
