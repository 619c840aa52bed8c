//! The one integration-test crate: each module covers an area, all against the real binary.

mod support;

mod ops;
mod platform;
mod stream;
