//! The marketplace's contracts through HTTP.
