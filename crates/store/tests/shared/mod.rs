//! Behavioural tests shared by every store backend. A backend's test file declares this
//! module (`#[path = ".../store/tests/shared/mod.rs"] mod shared;`), implements [`Backend`]
//! and instantiates the test lists with the macros of the submodules.
#![allow(dead_code)]

use logsieve_store::{ReaderFactory, StoreWriter};

#[path = "../common/mod.rs"]
pub mod common;
pub mod partitions;

/// One isolated, empty store (its own directory or schema), removed when dropped.
pub trait Backend: Sized {
    /// A fresh, empty store.
    fn fresh() -> Self;
    /// Opens the store (again: a second call reopens the same data).
    fn open(&self) -> (Box<dyn StoreWriter>, Box<dyn ReaderFactory>);
}
