//! A body that carries a few fields of its own beside a resource's patch (a new schedule
//! item's place, a preset's items): decoded in one pass, so that a refusal of either names
//! its field as any decoding does (`#[serde(flatten)]` would lose the field's name).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    value::MapAccessDeserializer, Deserialize, DeserializeSeed, Deserializer, IntoDeserializer,
    MapAccess, Visitor,
};

/// A body that carries, beside a patch's fields, a few of its own (`O`): each key `O`
/// takes is decoded by it, every other one by the patch `P`, in one pass, so that a
/// refusal of either names its field as any decoding does (`http::request::params`).
#[derive(Debug)]
pub struct Beside<O, P> {
    pub own: O,
    pub patch: P,
}

/// The fields a body carries beside its patch.
pub trait OwnFields: Default {
    /// Decodes the value of `key` from `map` if it is one of these fields (`true`), else
    /// leaves it for the patch (`false`).
    fn take<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;
}

impl<'de, O: OwnFields, P: Deserialize<'de>> Deserialize<'de> for Beside<O, P> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(BesideVisitor(PhantomData))
    }
}

struct BesideVisitor<O, P>(PhantomData<(O, P)>);

impl<'de, O: OwnFields, P: Deserialize<'de>> Visitor<'de> for BesideVisitor<O, P> {
    type Value = Beside<O, P>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Beside<O, P>, A::Error> {
        let mut own = O::default();
        let patch = P::deserialize(MapAccessDeserializer::new(Rest { map, own: &mut own }))?;
        Ok(Beside { own, patch })
    }
}

/// The body's entries with the own fields' taken out, as the patch decodes them.
struct Rest<'o, A, O> {
    map: A,
    own: &'o mut O,
}

impl<'de, A: MapAccess<'de>, O: OwnFields> MapAccess<'de> for Rest<'_, A, O> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        while let Some(key) = self.map.next_key::<String>()? {
            if !self.own.take(&key, &mut self.map)? {
                let key: serde::de::value::StringDeserializer<A::Error> = key.into_deserializer();
                return seed.deserialize(key).map(Some);
            }
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}
