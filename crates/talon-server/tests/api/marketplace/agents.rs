//! The marketplace's agents through HTTP.
