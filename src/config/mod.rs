//! NUT's configuration files, as pure code (being written).
