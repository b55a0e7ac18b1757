//! A Yew single-page app and API client for djangorestframework-simplejwt backends.
#![deny(missing_docs)]

pub mod client;
pub mod config;
pub mod core;
