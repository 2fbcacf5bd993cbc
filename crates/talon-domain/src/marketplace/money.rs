//! Money as integer micro-USDC, and the platform fee.
//!
//! The API speaks decimal USDC (`85.5`, `"12.00"`), but every sum the ledger makes must be exact, so
//! amounts live as whole micro-USDC (USDC has 6 decimals on chain) in an `i64` and all arithmetic is
//! checked. Conversion happens once, at the edge: [`Micros::parse_usdc`] for text, [`Micros::from_usdc_f64`]
//! for a JSON number, and [`Micros::to_usdc_string`] / [`Micros::to_usdc_f64`] to answer.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Micro-USDC in one USDC.
const MICROS_PER_USDC: i64 = 1_000_000;
/// Decimals the API may send: USDC's own precision.
pub const MAX_DECIMALS: usize = 6;

/// Why a decimal USDC amount from the API was refused. The messages are written for API clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("Must be a number")]
    NotANumber,
    #[error("Must not be negative")]
    Negative,
    #[error("Must have at most 6 decimals")]
    TooManyDecimals,
    #[error("Must be at most 999999999.999999")]
    TooLarge,
}

/// An amount of USDC in micro-units (10⁻⁶ USDC). Signed, because ledger postings are debits (negative)
/// and credits (positive); amounts that come from the API are never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Micros(i64);

impl Micros {
    pub const ZERO: Micros = Micros(0);
    /// The largest amount the API accepts: 15 significant digits, so that every accepted amount is
    /// carried exactly by a JSON number (an `f64` holds any 15-digit decimal exactly enough to round
    /// trip), and sums of many amounts stay far from `i64` overflow.
    pub const MAX_API_AMOUNT: Micros = Micros(999_999_999_999_999);

    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Whole USDC; refuses amounts above [`Micros::MAX_API_AMOUNT`] rather than overflowing.
    pub fn from_whole_usdc(usdc: i64) -> Result<Self, AmountError> {
        if usdc < 0 {
            return Err(AmountError::Negative);
        }
        usdc.checked_mul(MICROS_PER_USDC).map(Self).filter(|m| *m <= Self::MAX_API_AMOUNT).ok_or(AmountError::TooLarge)
    }

    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn checked_add(self, other: Micros) -> Option<Micros> {
        self.0.checked_add(other.0).map(Micros)
    }

    pub fn checked_sub(self, other: Micros) -> Option<Micros> {
        self.0.checked_sub(other.0).map(Micros)
    }

    pub fn checked_neg(self) -> Option<Micros> {
        self.0.checked_neg().map(Micros)
    }

    /// Parses decimal USDC as the API writes it: digits, optionally a point and 1–6 more digits
    /// (`"12"`, `"12.5"`, `"0.000001"`, `".5"` is refused). A sign, exponent or spaces are refused so
    /// that one amount has one spelling.
    pub fn parse_usdc(text: &str) -> Result<Self, AmountError> {
        if let Some(rest) = text.strip_prefix('-') {
            return Err(if is_plain_decimal(rest) { AmountError::Negative } else { AmountError::NotANumber });
        }
        if !is_plain_decimal(text) {
            return Err(AmountError::NotANumber);
        }
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if fraction.len() > MAX_DECIMALS {
            return Err(AmountError::TooManyDecimals);
        }
        let whole: i64 = whole.trim_start_matches('0').parse().or_else(|_| {
            // Only an empty string (all zeros) or an overlong digit run fail here: the text is digits.
            if whole.bytes().all(|b| b == b'0') { Ok(0) } else { Err(AmountError::TooLarge) }
        })?;
        let scale = 10_i64.pow((MAX_DECIMALS - fraction.len()) as u32);
        let fraction: i64 =
            if fraction.is_empty() { 0 } else { fraction.parse().map_err(|_| AmountError::NotANumber)? };
        let micros = whole
            .checked_mul(MICROS_PER_USDC)
            .and_then(|w| w.checked_add(fraction * scale))
            .ok_or(AmountError::TooLarge)?;
        if micros > Self::MAX_API_AMOUNT.0 {
            return Err(AmountError::TooLarge);
        }
        Ok(Self(micros))
    }

    /// Reads a JSON number. `serde_json` hands `12.5` over as an `f64`; its shortest round-trip
    /// decimal form (Rust's `Display`, which never uses an exponent) is exactly what the client wrote
    /// for any amount within [`Micros::MAX_API_AMOUNT`], so parsing that text avoids float error
    /// (`0.1` is 100 000 micros, not 99 999).
    pub fn from_usdc_f64(value: f64) -> Result<Self, AmountError> {
        if !value.is_finite() {
            return Err(AmountError::NotANumber);
        }
        if value.is_sign_negative() && value != 0.0 {
            return Err(AmountError::Negative);
        }
        // -0.0 prints as "-0": it is zero.
        match Self::parse_usdc(&format!("{}", value.abs())) {
            Err(AmountError::TooManyDecimals) => Self::from_float_error(value.abs()),
            other => other,
        }
    }

    /// An amount whose shortest form has more than 6 decimals only through binary float error (a client
    /// computing `7 * 0.000001` sends `6.999999999999999e-6`): within a billionth of a micro-USDC of a
    /// whole micro-USDC it is that amount; anything further off really has more than 6 decimals.
    fn from_float_error(value: f64) -> Result<Self, AmountError> {
        let scaled = value * 1_000_000.0;
        let rounded = scaled.round();
        if (scaled - rounded).abs() > 1e-9 || rounded > Self::MAX_API_AMOUNT.0 as f64 {
            return Err(AmountError::TooManyDecimals);
        }
        Ok(Micros(rounded as i64))
    }

    /// The decimal form with as few decimals as needed (`85.5`, `12`, `0.000001`, `-3.25`): exact, no
    /// float on the way.
    pub fn to_usdc_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = abs / MICROS_PER_USDC as u64;
        let fraction = abs % MICROS_PER_USDC as u64;
        if fraction == 0 {
            return format!("{sign}{whole}");
        }
        let digits = format!("{fraction:06}");
        format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
    }

    /// The JSON number to answer with. Parsing the exact decimal text gives the `f64` nearest to it,
    /// which prints back as that same decimal for every amount up to 15 significant digits.
    pub fn to_usdc_f64(self) -> f64 {
        self.to_usdc_string().parse().unwrap_or(f64::NAN)
    }
}

/// Digits with at most one point that has digits on both sides.
fn is_plain_decimal(text: &str) -> bool {
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && fraction.is_none_or(digits)
}

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_usdc_string())
    }
}

/// Serialized as the decimal-USDC JSON number the API documents (`85.5`).
impl Serialize for Micros {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.to_usdc_f64())
    }
}

/// Accepts a JSON number or a decimal string, with the rules of [`Micros::parse_usdc`].
impl<'de> Deserialize<'de> for Micros {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct UsdcVisitor;
        impl Visitor<'_> for UsdcVisitor {
            type Value = Micros;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative USDC amount with at most 6 decimals")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Micros, E> {
                let whole = i64::try_from(v).map_err(|_| E::custom(AmountError::TooLarge))?;
                Micros::from_whole_usdc(whole).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Micros, E> {
                Micros::from_whole_usdc(v).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Micros, E> {
                Micros::from_usdc_f64(v).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Micros, E> {
                Micros::parse_usdc(v).map_err(E::custom)
            }
        }
        d.deserialize_any(UsdcVisitor)
    }
}

/// Why a fee rate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a fee rate is 0 to 10000 basis points, not {0}")]
pub struct FeeRateError(pub u32);

/// The platform's cut in basis points (1 bp = 0.01 %). Rounding rule: the fee is
/// `floor(amount × bps / 10000)` micro-USDC and the agent gets `amount − fee`, so rounding never takes
/// more than the stated rate from the agent, and fee + payout is always exactly the amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeRate(u16);

impl FeeRate {
    const FULL: u16 = 10_000;

    pub fn from_basis_points(bps: u32) -> Result<Self, FeeRateError> {
        u16::try_from(bps).ok().filter(|b| *b <= Self::FULL).map(Self).ok_or(FeeRateError(bps))
    }

    pub const fn basis_points(self) -> u16 {
        self.0
    }

    /// The fee on a non-negative amount; a negative amount has no fee.
    pub fn fee_on(self, amount: Micros) -> Micros {
        if amount.0 <= 0 {
            return Micros::ZERO;
        }
        // i128 so that amount × 10000 cannot overflow; the quotient is ≤ amount, so it fits i64.
        let fee = i128::from(amount.0) * i128::from(self.0) / i128::from(Self::FULL);
        Micros(fee as i64)
    }

    /// Splits a payment into what the agent receives and what the platform keeps.
    pub fn payout(self, amount: Micros) -> Payout {
        let fee = self.fee_on(amount);
        Payout { to_agent: Micros(amount.0 - fee.0), fee }
    }
}

/// The marketplace's documented rate: 90 % to the agent, 10 % to the platform.
impl Default for FeeRate {
    fn default() -> Self {
        Self(1_000)
    }
}

/// One payment divided between the agent and the platform; the parts always sum to the payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payout {
    pub to_agent: Micros,
    pub fee: Micros,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usdc(text: &str) -> Micros {
        Micros::parse_usdc(text).unwrap()
    }

    #[test]
    fn parses_decimal_text_exactly() {
        assert_eq!(usdc("12.5").as_micros(), 12_500_000);
        assert_eq!(usdc("12").as_micros(), 12_000_000);
        assert_eq!(usdc("12.00").as_micros(), 12_000_000);
        assert_eq!(usdc("0.000001").as_micros(), 1);
        assert_eq!(usdc("0").as_micros(), 0);
        assert_eq!(usdc("0007.1").as_micros(), 7_100_000);
        assert_eq!(usdc("999999999.999999"), Micros::MAX_API_AMOUNT);
    }

    #[test]
    fn refuses_bad_text_with_a_reason() {
        assert_eq!(Micros::parse_usdc("-1"), Err(AmountError::Negative));
        assert_eq!(Micros::parse_usdc("-0"), Err(AmountError::Negative));
        assert_eq!(Micros::parse_usdc("1.0000001"), Err(AmountError::TooManyDecimals));
        assert_eq!(Micros::parse_usdc("1000000000"), Err(AmountError::TooLarge));
        assert_eq!(Micros::parse_usdc("99999999999999999999999"), Err(AmountError::TooLarge));
        for bad in ["", ".5", "5.", "1e3", " 1", "1,5", "+1", "NaN", "inf", "1.2.3", "--1", "0x10"] {
            assert_eq!(Micros::parse_usdc(bad), Err(AmountError::NotANumber), "{bad:?}");
        }
    }

    #[test]
    fn a_float_products_error_is_not_a_seventh_decimal() {
        // What `7 * 0.000001` and `123456789 * 0.000001` come to in binary floating point.
        assert_eq!(Micros::from_usdc_f64(7.0 * 0.000_001), Ok(Micros::from_micros(7)));
        assert_eq!(Micros::from_usdc_f64(123_456_789.0 * 0.000_001), Ok(Micros::from_micros(123_456_789)));
        assert_eq!(Micros::from_usdc_f64(0.000_001_5), Err(AmountError::TooManyDecimals));
        assert_eq!(Micros::from_usdc_f64(1.000_000_1), Err(AmountError::TooManyDecimals));
    }

    #[test]
    fn json_numbers_convert_without_float_error() {
        assert_eq!(Micros::from_usdc_f64(12.5).unwrap().as_micros(), 12_500_000);
        assert_eq!(Micros::from_usdc_f64(0.1).unwrap().as_micros(), 100_000);
        assert_eq!(Micros::from_usdc_f64(0.000001).unwrap().as_micros(), 1);
        assert_eq!(Micros::from_usdc_f64(999_999_999.999999).unwrap(), Micros::MAX_API_AMOUNT);
        assert_eq!(Micros::from_usdc_f64(-0.0).unwrap(), Micros::ZERO);
        assert_eq!(Micros::from_usdc_f64(-0.5), Err(AmountError::Negative));
        assert_eq!(Micros::from_usdc_f64(f64::NAN), Err(AmountError::NotANumber));
        assert_eq!(Micros::from_usdc_f64(f64::INFINITY), Err(AmountError::NotANumber));
        assert_eq!(Micros::from_usdc_f64(0.1 + 0.2), Ok(Micros::from_micros(300_000)), "float noise, not a decimal");
        assert_eq!(Micros::from_usdc_f64(1e300), Err(AmountError::TooLarge));
    }

    #[test]
    fn serde_reads_numbers_and_strings_and_writes_numbers() {
        let read = |json: &str| serde_json::from_str::<Micros>(json);
        assert_eq!(read("12.5").unwrap().as_micros(), 12_500_000);
        assert_eq!(read("12").unwrap().as_micros(), 12_000_000);
        assert_eq!(read("\"85.50\"").unwrap().as_micros(), 85_500_000);
        assert!(read("-3").is_err());
        assert!(read("1.1234567").is_err());
        assert!(read("true").is_err());
        assert!(read("18446744073709551615").is_err());
        assert_eq!(serde_json::to_string(&usdc("85.5")).unwrap(), "85.5");
        assert_eq!(serde_json::to_string(&usdc("12")).unwrap(), "12.0");
        assert_eq!(serde_json::to_string(&usdc("0.1")).unwrap(), "0.1");
    }

    #[test]
    fn renders_exactly() {
        assert_eq!(usdc("85.5").to_usdc_string(), "85.5");
        assert_eq!(usdc("12.00").to_usdc_string(), "12");
        assert_eq!(usdc("0.000001").to_usdc_string(), "0.000001");
        assert_eq!(Micros::from_micros(-3_250_000).to_usdc_string(), "-3.25");
        assert_eq!(Micros::from_micros(i64::MIN).to_usdc_string(), "-9223372036854.775808");
        assert_eq!(usdc("0.3").to_usdc_f64(), 0.3);
    }

    #[test]
    fn checked_arithmetic_reports_overflow() {
        let max = Micros::from_micros(i64::MAX);
        assert_eq!(max.checked_add(Micros::from_micros(1)), None);
        assert_eq!(Micros::from_micros(i64::MIN).checked_sub(Micros::from_micros(1)), None);
        assert_eq!(Micros::from_micros(i64::MIN).checked_neg(), None);
        assert_eq!(usdc("1").checked_sub(usdc("1.5")), Some(Micros::from_micros(-500_000)));
    }

    #[test]
    fn fee_is_floored_and_the_parts_sum_to_the_amount() {
        let rate = FeeRate::default();
        assert_eq!(rate.basis_points(), 1000);
        assert_eq!(rate.payout(usdc("100")), Payout { to_agent: usdc("90"), fee: usdc("10") });
        // 10 % of 9 micros is 0.9: the fee rounds down, the agent keeps the remainder.
        assert_eq!(rate.payout(Micros::from_micros(9)), Payout { to_agent: Micros::from_micros(9), fee: Micros::ZERO });
        assert_eq!(rate.payout(Micros::from_micros(19)).fee, Micros::from_micros(1));
        let big = Micros::from_micros(i64::MAX);
        let payout = FeeRate::from_basis_points(10_000).unwrap().payout(big);
        assert_eq!((payout.fee, payout.to_agent), (big, Micros::ZERO));
        assert_eq!(FeeRate::from_basis_points(0).unwrap().fee_on(usdc("5")), Micros::ZERO);
        assert_eq!(FeeRate::from_basis_points(10_001), Err(FeeRateError(10_001)));
    }

    proptest::proptest! {
        #[test]
        fn text_and_json_number_round_trip(micros in 0..=Micros::MAX_API_AMOUNT.as_micros()) {
            let amount = Micros::from_micros(micros);
            proptest::prop_assert_eq!(Micros::parse_usdc(&amount.to_usdc_string()), Ok(amount));
            proptest::prop_assert_eq!(Micros::from_usdc_f64(amount.to_usdc_f64()), Ok(amount));
        }

        #[test]
        fn payout_parts_sum_and_fee_never_exceeds_the_rate(micros in 0..=i64::MAX, bps in 0..=10_000_u32) {
            let rate = FeeRate::from_basis_points(bps).unwrap();
            let payout = rate.payout(Micros::from_micros(micros));
            proptest::prop_assert_eq!(payout.fee.as_micros() + payout.to_agent.as_micros(), micros);
            proptest::prop_assert!(i128::from(payout.fee.as_micros()) * 10_000 <= i128::from(micros) * i128::from(bps));
        }
    }
}
