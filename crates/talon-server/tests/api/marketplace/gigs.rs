//! The marketplace's gigs through HTTP.
