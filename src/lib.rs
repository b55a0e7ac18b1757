//! A Yew single-page app and API client for djangorestframework-simplejwt backends.
//!
//! - [`core`]: the decisions (token decoding, when to refresh, what a response means,
//!   where `next=` may point), browser-free and host-tested;
//! - [`client`]: the one API client service, over three seams to the browser:
//!   [`transport`], [`storage`] and [`clock`];
//! - [`session`]: the session context and the one guard that sends users to `/signin`;
//! - [`app`], [`pages`], [`components`]: the Yew UI.
#![deny(missing_docs)]

pub mod app;
pub mod client;
pub mod clock;
pub mod components;
pub mod config;
pub mod core;
pub mod pages;
pub mod routes;
pub mod session;
pub mod storage;
pub mod transport;

use serde::Deserialize;

/// `GET /api/me/` (its `id` is not needed: the token already names the user).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Me {
    /// The user's username.
    pub username: String,
}

/// `GET /api/items/<id>/`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ItemDetail {
    /// How many are in stock.
    pub in_stock: u32,
}

/// One entry of `GET /api/items/`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Item {
    /// The item's id.
    pub id: u64,
    /// The item's name.
    pub name: String,
}
