//! Behavioural tests shared by every store backend. A backend's test file declares this
//! module (`#[path = ".../store/tests/shared/mod.rs"] mod shared;`), implements [`Backend`]
//! and instantiates the test lists with the macros of the submodules.
#![allow(dead_code, unused_macros, unused_imports)]

use logsieve_store::{ReaderFactory, StoreWriter};

pub mod behaviour;
#[path = "../common/mod.rs"]
pub mod common;
pub mod partitions;
pub mod props;

/// One isolated, empty store (its own directory or schema), removed when dropped.
pub trait Backend: Sized {
    /// A fresh, empty store.
    fn fresh() -> Self;
    /// Opens the store (again: a second call reopens the same data).
    fn open(&self) -> (Box<dyn StoreWriter>, Box<dyn ReaderFactory>);
}

/// The SQLite backend in its own temporary directory.
pub struct Sqlite(pub tempfile::TempDir);

impl Backend for Sqlite {
    fn fresh() -> Self {
        Sqlite(tempfile::tempdir().unwrap())
    }
    fn open(&self) -> (Box<dyn StoreWriter>, Box<dyn ReaderFactory>) {
        let (w, r) = logsieve_store::open_sqlite(self.0.path()).unwrap();
        (Box::new(w), Box::new(r))
    }
}
