//! The typed fields of a write: what a partial create or update of a row may carry, each
//! value validated when it is decoded (an API body, an import row, a plan) and written to
//! its SQL column as one canonical value. A resource declares its patch once with `patch!`;
//! the decoder (`http::request::parse_json` / `params`) names the failing field in a 422.
//!
//! Decoding is as lenient as EXStreamTV's clients need: a number may come as a string
//! (`"3"`), a boolean as `0`/`1`/`"true"`, a text as a number. `null` clears a nullable
//! field (`Field<Option<T>>`) and is refused for the others ("may not be null").

use std::fmt;

use rusqlite::types::Value as SqlValue;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::kinds::{is_channel_number, TextEnum};

/// A field of a partial write: `None` when the body leaves it out (unchanged), else the
/// value sent. Unlike a bare `Option`, `null` reaches `T` (so a non-nullable `T` refuses it).
#[derive(Debug, Clone, PartialEq)]
pub struct Field<T>(pub Option<T>);

impl<T> Default for Field<T> {
    fn default() -> Self {
        Field(None)
    }
}

impl<T> Field<T> {
    pub fn given(&self) -> Option<&T> {
        self.0.as_ref()
    }

    pub fn is_given(&self) -> bool {
        self.0.is_some()
    }

    /// Sets the field, as a writer that is not HTTP fills a patch.
    pub fn set(value: T) -> Field<T> {
        Field(Some(value))
    }
}

impl<T: Copy> Field<Option<T>> {
    /// The value the field is set to, when it is sent and not `null`.
    pub fn value(&self) -> Option<T> {
        self.0.flatten()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(|v| Field(Some(v)))
    }
}

/// A value as SQLite stores it.
pub trait ToColumn {
    fn to_column(&self) -> SqlValue;
}

impl<T: ToColumn> ToColumn for Option<T> {
    fn to_column(&self) -> SqlValue {
        self.as_ref().map_or(SqlValue::Null, ToColumn::to_column)
    }
}

/// Declares a resource's patch: one `Field` per JSON field, each with its SQL column (the
/// field's name unless given as `field = "column"`), `values()` for `db::row`, and serde
/// decoding in which every field is optional (a create checks its required ones itself).
macro_rules! patch {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident $(= $sql:literal)? : $ty:ty ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
        #[serde(default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $crate::ops::fields::Field<$ty>, )+
        }

        impl $name {
            /// The fields sent, by SQL column, in declaration order (a partial update
            /// changes only these).
            pub fn values(&self) -> Vec<(&'static str, rusqlite::types::Value)> {
                let mut out = Vec::new();
                $(
                    if let Some(value) = &self.$field.0 {
                        out.push((
                            $crate::ops::fields::patch!(@sql $field $($sql)?),
                            $crate::ops::fields::ToColumn::to_column(value),
                        ));
                    }
                )+
                out
            }
        }
    };
    (@sql $field:ident) => { stringify!($field) };
    (@sql $field:ident $sql:literal) => { $sql };
}
pub(crate) use patch;

/// What a JSON scalar is, for the lenient decoders below.
enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    /// A whole number above `i64::MAX`.
    UInt(u64),
    /// A fraction.
    Float(f64),
    Str(String),
    /// An array or an object.
    Nested,
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
        Ok(i64::try_from(v).map_or(Scalar::UInt(v), Scalar::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Nested)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Nested)
    }
}

fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
    match Scalar::deserialize(d)? {
        Scalar::Null => Err(de::Error::custom("may not be null")),
        other => Ok(other),
    }
}

/// A string (a number is taken as its text).
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match scalar(d)? {
        Scalar::Str(s) => Ok(s),
        Scalar::Int(n) => Ok(n.to_string()),
        Scalar::UInt(n) => Ok(n.to_string()),
        // As JSON writes it (`2.0`, not `2`): the text the client sent.
        Scalar::Float(f) => {
            Ok(serde_json::Number::from_f64(f).map_or_else(|| f.to_string(), |n| n.to_string()))
        }
        _ => Err(de::Error::custom("expected a string")),
    }
}

/// An integer in `min..=max` (a string of digits is one too).
fn int<'de, D: Deserializer<'de>>(d: D, min: i64, max: i64) -> Result<i64, D::Error> {
    let n = match scalar(d)? {
        Scalar::Int(n) => Some(n),
        Scalar::Str(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| de::Error::custom("expected an integer"))?;
    if n < min || n > max {
        return Err(de::Error::custom(format_args!(
            "must be between {min} and {max}"
        )));
    }
    Ok(n)
}

/// Any text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        text(d).map(Text)
    }
}

impl ToColumn for Text {
    fn to_column(&self) -> SqlValue {
        SqlValue::Text(self.0.clone())
    }
}

/// A text with at least one non-blank character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(pub String);

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = text(d)?;
        if s.trim().is_empty() {
            return Err(de::Error::custom("may not be empty"));
        }
        Ok(Name(s))
    }
}

impl ToColumn for Name {
    fn to_column(&self) -> SqlValue {
        SqlValue::Text(self.0.clone())
    }
}

/// An integer in `MIN..=MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Int<const MIN: i64, const MAX: i64>(pub i64);

/// Any integer.
pub type AnyInt = Int<{ i64::MIN }, { i64::MAX }>;

/// A row id without a type of its own in `ops::ids`: one that names a row of one of several
/// tables (a schedule item's `collection_id`, by `collection_type`), or of a table not built
/// yet (`watermark_id`).
pub type AnyId = Int<1, { i64::MAX }>;

impl<'de, const MIN: i64, const MAX: i64> Deserialize<'de> for Int<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        int(d, MIN, MAX).map(Int)
    }
}

impl<const MIN: i64, const MAX: i64> ToColumn for Int<MIN, MAX> {
    fn to_column(&self) -> SqlValue {
        SqlValue::Integer(self.0)
    }
}

/// A number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Real(pub f64);

impl<'de> Deserialize<'de> for Real {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match scalar(d)? {
            Scalar::Int(n) => Ok(Real(n as f64)),
            Scalar::UInt(n) => Ok(Real(n as f64)),
            Scalar::Float(f) => Ok(Real(f)),
            _ => Err(de::Error::custom("expected a number")),
        }
    }
}

impl ToColumn for Real {
    fn to_column(&self) -> SqlValue {
        SqlValue::Real(self.0)
    }
}

/// A boolean: `true`/`false`, `0`/`1` or `"true"`/`"false"`; stored as 0/1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match scalar(d)? {
            Scalar::Bool(b) => Ok(Flag(b)),
            Scalar::Int(0) => Ok(Flag(false)),
            Scalar::Int(1) => Ok(Flag(true)),
            Scalar::Str(s) if s == "true" || s == "false" => Ok(Flag(s == "true")),
            _ => Err(de::Error::custom("expected a boolean")),
        }
    }
}

impl ToColumn for Flag {
    fn to_column(&self) -> SqlValue {
        SqlValue::Integer(i64::from(self.0))
    }
}

/// One of an enum's values, stored as its canonical text (an accepted older spelling
/// becomes the canonical one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OneOf<T>(pub T);

impl<'de, T: TextEnum> Deserialize<'de> for OneOf<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = text(d)?;
        s.parse::<T>()
            .map(OneOf)
            .map_err(|_| de::Error::custom(format_args!("must be one of {}", T::NAMES.join(", "))))
    }
}

impl<T: TextEnum> ToColumn for OneOf<T> {
    fn to_column(&self) -> SqlValue {
        SqlValue::Text(self.0.as_str().to_owned())
    }
}

/// A time of day, `HH:MM[:SS]` in, stored as `HH:MM:SS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockTime(pub String);

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = text(d)?;
        let time = crate::playout::clock::parse_time(&s)
            .ok_or_else(|| de::Error::custom("expected HH:MM:SS"))?;
        Ok(ClockTime(format!(
            "{:02}:{:02}:{:02}",
            time.hour(),
            time.minute(),
            time.second()
        )))
    }
}

impl ToColumn for ClockTime {
    fn to_column(&self) -> SqlValue {
        SqlValue::Text(self.0.clone())
    }
}

/// A channel number as HDHomeRun GuideNumbers are: `^\d+(\.\d+)?$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelNumber(pub String);

impl<'de> Deserialize<'de> for ChannelNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = text(d)?;
        if !is_channel_number(&s) {
            return Err(de::Error::custom(
                "must be digits with an optional .subchannel (\"5\", \"5.1\")",
            ));
        }
        Ok(ChannelNumber(s))
    }
}

impl ToColumn for ChannelNumber {
    fn to_column(&self) -> SqlValue {
        SqlValue::Text(self.0.clone())
    }
}

/// Decodes a row id leniently (`1..`), as `ops::ids` declares them.
pub fn row_id<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    int(d, 1, i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::{GuideMode, PlaybackOrder};
    use crate::ops::ids::ChannelId;

    patch! {
        pub struct Probe {
            name: Name,
            count: Int<1, 9>,
            start: Option<ClockTime>,
            mode: OneOf<GuideMode>,
            order: OneOf<PlaybackOrder>,
            channel_id: Option<ChannelId>,
            on = "\"on\"": Flag,
        }
    }

    fn decode(json: &str) -> Result<Probe, String> {
        crate::http::request::parse_json::<Probe>(json.as_bytes()).map_err(|e| e.detail)
    }

    #[test]
    fn validates_each_field_and_names_it() {
        let p = decode(r#"{"count":"3","start":"20:00","on":1,"order":"shuffle"}"#).unwrap();
        assert_eq!(
            p.values(),
            vec![
                ("count", SqlValue::Integer(3)),
                ("start", SqlValue::Text("20:00:00".into())),
                // An accepted older spelling is stored as the canonical name.
                ("order", SqlValue::Text("shuffled".into())),
                ("\"on\"", SqlValue::Integer(1)),
            ]
        );
        assert_eq!(
            decode(r#"{"count":0}"#).unwrap_err(),
            "count: must be between 1 and 9"
        );
        assert_eq!(
            decode(r#"{"count":null}"#).unwrap_err(),
            "count: may not be null"
        );
        assert_eq!(
            decode(r#"{"name":"  "}"#).unwrap_err(),
            "name: may not be empty"
        );
        assert_eq!(
            decode(r#"{"start":"25:00"}"#).unwrap_err(),
            "start: expected HH:MM:SS"
        );
        assert_eq!(
            decode(r#"{"mode":"c"}"#).unwrap_err(),
            "mode: must be one of normal, custom, hide"
        );
        assert_eq!(
            decode(r#"{"on":"yes"}"#).unwrap_err(),
            "on: expected a boolean"
        );
        assert_eq!(
            decode(r#"{"channel_id":0}"#).unwrap_err(),
            format!("channel_id: must be between 1 and {}", i64::MAX)
        );
    }

    #[test]
    fn null_clears_only_a_nullable_field() {
        let p = decode(r#"{"start":null,"channel_id":null,"extra":[1,{"a":2}]}"#).unwrap();
        assert_eq!(p.start, Field(Some(None)));
        assert_eq!(p.channel_id.value(), None);
        assert!(p.channel_id.is_given());
        assert!(!p.name.is_given());
        assert_eq!(
            p.values(),
            vec![("start", SqlValue::Null), ("channel_id", SqlValue::Null)]
        );
        let p = decode(r#"{"channel_id":"7"}"#).unwrap();
        assert_eq!(p.channel_id.value(), Some(ChannelId(7)));
    }

    #[test]
    fn a_number_sent_for_a_text_keeps_its_json_spelling() {
        for (json, text) in [
            (r#"{"name":2.0}"#, "2.0"),
            (r#"{"name":2.5}"#, "2.5"),
            (r#"{"name":7}"#, "7"),
            (r#"{"name":18446744073709551615}"#, "18446744073709551615"),
        ] {
            let p = decode(json).unwrap();
            assert_eq!(p.name, Field::set(Name(text.into())), "{json}");
        }
        assert_eq!(
            decode(r#"{"count":18446744073709551615}"#).unwrap_err(),
            "count: expected an integer"
        );
    }
}
