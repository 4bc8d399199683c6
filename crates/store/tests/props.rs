//! Property: counts add up (see `shared/props.rs`), on the SQLite store.
mod shared;

shared::props::prop_tests!(shared::Sqlite, 48);
shared::props::values_prop_tests!(shared::Sqlite, 48);
