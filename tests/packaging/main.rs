//! Tests of what packagers and installers use: `make install` and its
//! variants into a temporary DESTDIR, and OpenWrt's init script writing
//! NUT's files from UCI.

mod install;
mod openwrt;
