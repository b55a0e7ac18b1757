//! Pieces shared by several pages.

mod layout;
mod status;

pub use layout::ProtectedLayout;
pub use status::LoadStatus;
