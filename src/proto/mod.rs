//! The NUT network protocol, as pure code (being written).
