//! The NUT network protocol, as pure code: bytes of a request line in,
//! bytes of a reply and an action for the server out.
//!
//! Read first: `docs/design/nut-protocol.md` §2 to §10.
//!
//! - [`lexer`]: NUT's word rules (quotes, escapes, comments) and the
//!   escaping of reply values;
//! - [`request`]: words → [`Request`], with upsd's argument rules;
//! - [`response`]: [`ErrCode`] and every reply line, written into a
//!   caller's buffer ([`Reply`]);
//! - [`session`]: one connection's state and upsd's check order;
//!   reads UPS data through the [`Upses`] trait;
//! - [`users`]: the rights of upsd.users;
//! - [`desc`]: texts for `GET DESC` and `GET CMDDESC`;
//! - [`tracking`]: TRACKING ids and the results table;
//! - [`timers`]: the connections' idle deadlines, earliest first;
//! - [`ratelimit`]: failed logins per source address and user name, and
//!   the server's login limit;
//! - [`admission`]: which connection gets a slot, which makes room;
//! - [`framing`]: request lines cut from a receive buffer.
//!
//! Nothing here does I/O, reads the clock or allocates while answering:
//! sockets, buffers, time and the tracking table belong to the server.

pub mod admission;
pub mod desc;
pub mod framing;
pub mod lexer;
pub mod ratelimit;
pub mod request;
pub mod response;
pub mod session;
pub mod timers;
pub mod tracking;
pub mod users;

pub use lexer::{tokenize, LexError, MAX_ARGS, MAX_LINE, MAX_WORD};
pub use request::{parse, Command, Invalid, Request};
pub use response::{ErrCode, Overflow, Reply, MAX_REPLY_LINE};
pub use session::{Action, Data, Live, RequestEnv, Session, UpsView, Upses, VarRange};
pub use tracking::{TrackingId, TrackingStatus};
pub use users::{InstCmds, Right, Rights, Upsmon, User, Users};
