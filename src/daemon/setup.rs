//! The daemon's side of configuration: what a configured UPS's data
//! comes from (`Source`: a simulated recording, or a USB matcher),
//! devices handed in directly ([`DeviceSpec`], for tests), and the
//! [`config::setup::Shell`] that makes them, resolves `LISTEN` host names
//! and logs warnings while [`config::setup::load`] reads the files.

use crate::config::setup::{self as conf, Args, Discovery, Retry};
use crate::config::{self, ups_conf};
use crate::device::io::{Dev, Found, Opener};
use crate::device::matcher::Matcher;
use crate::device::probe;
use crate::device::sim::Sim;
use crate::recording::Recording;
use crate::sys::log::log;
use crate::sys::net;
use crate::ups::options::Options;
use std::net::IpAddr;
use std::path::Path;

/// Where a UPS's data comes from.
pub(crate) enum Source {
    /// A recording, served by a simulated device.
    Sim(Box<Sim>, Retry),
    /// A `driver = usbhid-ups` section: the first USB UPS its matcher
    /// accepts.
    Usb { matcher: Matcher, retry: Retry },
}

/// One UPS to serve, as configured.
pub(crate) type UpsSpec = conf::UpsSpec<Source>;

/// A device handed to the daemon directly rather than found on hidraw
/// (tests drive a worker with a scripted device this way).
pub struct DeviceSpec {
    pub name: String,
    pub found: Found<Dev>,
    /// Finds the device again after a fault.
    pub opener: Opener<Dev>,
    pub opts: Options,
    pub retry: Retry,
}

/// Everything the loop needs, read and checked before any socket opens.
pub struct Setup {
    pub(crate) conf: conf::Setup<Source>,
    pub(crate) devices: Vec<DeviceSpec>,
}

impl Setup {
    /// Read the configuration files and recordings `args` name. Errors
    /// name the file and line (`file:line: msg`). With no UPS configured
    /// at all, every USB UPS found is served.
    pub fn load(args: &Args) -> Result<Setup, String> {
        Ok(Setup {
            conf: conf::load(args, &mut System)?,
            devices: Vec::new(),
        })
    }

    /// Serve `d` too, under its name. A daemon handed devices this way
    /// does not adopt others it finds.
    pub fn add_device(&mut self, d: DeviceSpec) -> Result<(), String> {
        let taken = |n: &str| {
            self.conf
                .upses
                .iter()
                .any(|u| u.name.eq_ignore_ascii_case(n))
                || self.devices.iter().any(|u| u.name.eq_ignore_ascii_case(n))
        };
        if taken(&d.name) {
            return Err(format!("two UPSes are called '{}'", d.name));
        }
        if self.conf.discovery == Discovery::Adopt {
            self.conf.discovery = Discovery::Off;
        }
        self.devices.push(d);
        Ok(())
    }
}

/// The real system: recordings from files, matchers with POSIX regexes,
/// host names through the resolver, warnings to the log.
struct System;

impl conf::Shell for System {
    type Source = Source;

    fn sim(
        &mut self,
        path: &Path,
        scripts: &[&Path],
        opts: &Options,
        retry: Retry,
    ) -> Result<Source, String> {
        let mut rec = Recording::load(path).map_err(|e| e.to_string())?;
        for file in scripts {
            rec.load_script(file).map_err(|e| e.to_string())?;
        }
        let sim = Sim::load(rec, opts, &path.display().to_string())?;
        Ok(Source::Sim(Box::new(sim), retry))
    }

    fn usb(
        &mut self,
        matching: &ups_conf::Match,
        port: &str,
        retry: Retry,
    ) -> Result<Source, String> {
        let matcher = probe::matcher(matching, port)?;
        Ok(Source::Usb { matcher, retry })
    }

    fn resolve(&mut self, host: &str, port: u16) -> Option<IpAddr> {
        net::resolve_first(host, port)
    }

    fn warn(&mut self, w: &config::ConfigError) {
        log(format_args!("warning: {w}"));
    }
}
