//! The marketplace's uploads through HTTP.
