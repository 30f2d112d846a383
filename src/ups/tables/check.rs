//! Consistency checks over the generated tables (hand-written, not generated).

#[cfg(test)]
mod tests {
    use super::super::{devices, lookups, strings, subdriver, usages, SUBDRIVERS};
    use crate::ups::table::*;

    /// Entries sharing (name, path) in NUT's own tables, other than status
    /// (`BOOL`) and alarm sources, which read one path through several
    /// lookups. `(subdriver, name, path, count)`.
    const KNOWN_DUPLICATES: &[(&str, &str, &str, usize)] = &[
        // Same row twice in mge-hid.c.
        (
            "mge",
            "battery.runtime.low",
            "UPS.PowerSummary.RemainingTimeLimit",
            2,
        ),
        // pegasus_yes_no_info first (Pegasus only), then yes_no_info.
        (
            "mge",
            "outlet.2.switchable",
            "UPS.OutletSystem.Outlet.[3].PresentStatus.Switchable",
            2,
        ),
        (
            "mge",
            "outlet.3.switchable",
            "UPS.OutletSystem.Outlet.[4].PresentStatus.Switchable",
            2,
        ),
        // Same row twice in salicru-hid.c.
        (
            "salicru",
            "ups.test.result",
            "UPS.BatterySystem.Battery.Test",
            2,
        ),
    ];

    /// Path tokens that resolve neither as a usage name, nor as hex digits,
    /// nor as `[n]` (NUT drops them silently). `(subdriver, path, token)`.
    const KNOWN_UNRESOLVED: &[(&str, &str, &str)] = &[];

    const LIST_ORDER: &[&str] = &[
        "explore",
        "mge",
        "apc",
        "arduino",
        "belkin",
        "cps",
        "delta_ups",
        "ecoflow",
        "ever",
        "idowell",
        "legrand",
        "liebert",
        "openups",
        "powercom",
        "powervar",
        "salicru",
        "tripplite",
    ];

    fn all_unique<T: PartialEq>(items: &[T]) -> bool {
        items
            .iter()
            .enumerate()
            .all(|(i, a)| !items[..i].contains(a))
    }

    #[test]
    fn subdrivers_unique_and_in_list_order() {
        let keys: Vec<&str> = SUBDRIVERS.iter().map(|s| s.key).collect();
        let names: Vec<&str> = SUBDRIVERS.iter().map(|s| s.name).collect();
        assert_eq!(keys, LIST_ORDER);
        assert!(all_unique(&keys), "duplicate subdriver key");
        assert!(all_unique(&names), "duplicate subdriver name");
        for s in SUBDRIVERS {
            assert!(core::ptr::eq(subdriver(s.key).unwrap(), *s));
            let last = s.usages.last().expect("no usage tables");
            assert!(
                core::ptr::eq(*last, usages::GENERIC),
                "{}: GENERIC not last",
                s.key
            );
        }
        assert!(subdriver("nope").is_none());
        assert_eq!(subdriver("explore").unwrap().map.len(), 0);
    }

    #[test]
    fn map_paths_non_empty_and_duplicates_known() {
        let mut dups: Vec<(&str, &str, &str, usize)> = Vec::new();
        for s in SUBDRIVERS {
            for (i, e) in s.map.iter().enumerate() {
                assert!(!e.name().is_empty(), "{}: empty name at {}", s.key, i);
                assert!(
                    !e.path().is_empty(),
                    "{}: {} has an empty path",
                    s.key,
                    e.name
                );
                assert!(
                    e.path().split('.').all(|t| !t.is_empty()),
                    "{}: {} has an empty path token",
                    s.key,
                    e.path
                );
                let same: Vec<&MapEntry> = s
                    .map
                    .iter()
                    .filter(|o| o.name == e.name && o.path == e.path)
                    .collect();
                if same.len() < 2 || !core::ptr::eq(same[0], e) {
                    continue;
                }
                if e.is_bool() || e.is_alarm() {
                    // Several lookups on one path: each must be distinct.
                    let names: Vec<Option<&str>> = same
                        .iter()
                        .map(|o| o.lookup().map(|l| l.name.get()))
                        .collect();
                    assert!(
                        all_unique(&names),
                        "{}: {} {} repeats a lookup",
                        s.key,
                        e.name,
                        e.path
                    );
                    continue;
                }
                dups.push((s.key, e.name(), e.path(), same.len()));
            }
        }
        assert_eq!(dups, KNOWN_DUPLICATES);
    }

    #[test]
    fn lookup_keys_unique() {
        assert!(all_unique(
            &lookups::ALL.iter().map(|l| l.name).collect::<Vec<_>>()
        ));
        for l in &lookups::ALL {
            if l.fun.is_some() {
                // Rows of function tables only list enum values.
                continue;
            }
            let keys: Vec<i32> = l.rows.iter().map(|r| r.0).collect();
            assert!(all_unique(&keys), "{}: duplicate HID value", l.name);
            assert!(
                !l.rows.is_empty() || l.nuf.is_some(),
                "{}: empty table",
                l.name
            );
        }
        for s in SUBDRIVERS {
            for e in s.map {
                // NONE, or an index into ALL.
                assert_eq!(
                    e.lookup == LookupId::NONE,
                    e.lookup().is_none(),
                    "{}: {} names lookup {} beyond lookups::ALL",
                    s.key,
                    e.name,
                    e.lookup.0
                );
            }
        }
    }

    #[test]
    fn devices_name_known_subdrivers() {
        for d in devices::DEVICES {
            assert!(
                subdriver(d.subdriver.get()).is_some(),
                "{:04x}:{:04x}: {}",
                d.vid,
                d.pid,
                d.subdriver
            );
        }
        for (vid, sub) in devices::VENDOR_FALLBACK {
            assert!(subdriver(sub.get()).is_some(), "{:04x}: {}", vid, sub);
            assert!(
                devices::DEVICES.iter().any(|d| d.vid == *vid),
                "{:04x}: no device",
                vid
            );
        }
        assert!(all_unique(
            &devices::VENDOR_FALLBACK
                .iter()
                .map(|v| v.0)
                .collect::<Vec<_>>()
        ));
        for (vid, pid) in devices::FALLBACK_REJECT {
            assert!(devices::VENDOR_FALLBACK.iter().any(|v| v.0 == *vid));
            assert!(!devices::DEVICES
                .iter()
                .any(|d| d.vid == *vid && d.pid == *pid));
        }
        for c in devices::CLAIM_DEFAULTS {
            assert!(devices::DEVICES
                .iter()
                .any(|d| d.vid == c.vid && d.pid == c.pid));
        }
        // Every VID:PID is listed once, except 06da:ffff (mge, idowell, liebert),
        // which the string gates share out.
        for d in devices::DEVICES {
            let n = devices::DEVICES
                .iter()
                .filter(|o| o.vid == d.vid && o.pid == d.pid)
                .count();
            if (d.vid, d.pid) == (0x06da, 0xffff) {
                assert_eq!(n, 3);
            } else {
                assert_eq!(n, 1, "{:04x}:{:04x} listed {} times", d.vid, d.pid, n);
            }
        }
    }

    /// A path token resolves as NUT's `string_to_path` does: a usage name
    /// (case-insensitive), all hex digits, or `[n]`.
    fn token_resolves(token: &str, tables: &[&[UsageName]]) -> bool {
        if tables
            .iter()
            .any(|t| t.iter().any(|u| u.name.get().eq_ignore_ascii_case(token)))
        {
            return true;
        }
        if !token.is_empty() && token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return true;
        }
        token.len() > 2
            && token.starts_with('[')
            && token.ends_with(']')
            && token[1..token.len() - 1]
                .bytes()
                .all(|b| b.is_ascii_digit())
    }

    #[test]
    fn path_tokens_resolve() {
        let mut bad: Vec<(&str, &str, &str)> = Vec::new();
        for s in SUBDRIVERS {
            for e in s.map {
                for token in e.path().split('.').filter(|t| !t.is_empty()) {
                    if !token_resolves(token, s.usages) {
                        bad.push((s.key, e.path(), token));
                    }
                }
            }
        }
        assert_eq!(bad, KNOWN_UNRESOLVED);
    }

    /// The string data: sorted (what `Str::of`'s binary search needs), and
    /// every string found again by its own text.
    #[test]
    fn string_pools_sorted_and_found() {
        for pool in [&strings::STRINGS, &strings::DOCS] {
            assert!(pool.is_sorted());
            assert_eq!(pool.get(0), "");
            let n = pool.offsets.len() - 1;
            assert_eq!(usize::from(pool.offsets[n]), pool.text.len());
            for i in 1..n {
                assert_eq!(pool.find(pool.get(i as u16)), i as u16);
            }
            assert_eq!(pool.get(n as u16), "");
        }
        assert_eq!(Str::NONE.opt(), None);
        assert_eq!(Str::of("BOOL").opt(), Some("BOOL"));
        assert_eq!(Str::of("ups.alarm").get(), "ups.alarm");
    }
}
