//! One module per route.

mod home;
mod items;
mod not_found;
mod sign_in;

pub use home::HomePage;
pub use items::ItemsPage;
pub use not_found::NotFoundPage;
pub use sign_in::SignInPage;
