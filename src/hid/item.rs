//! Items of a HID report descriptor: an iterator over short and long items
//! (HID 1.11 §6.2.2.2 and §6.2.2.3) that never reads past the end.

use super::Error;

/// Item type, from bits 2-3 of the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemType {
    Main,
    Global,
    Local,
    Reserved,
}

/// One item: its prefix tag (type and tag bits, size bits cleared), the
/// byte offset where it starts, and its data bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item<'a> {
    /// Prefix byte with the size bits masked off (`0x04` Usage Page, ...);
    /// `0xFE` for a long item.
    pub tag: u8,
    /// Offset of the prefix in the descriptor.
    pub offset: usize,
    /// Data bytes (0, 1, 2 or 4 for short items).
    pub data: &'a [u8],
}

impl Item<'_> {
    pub fn kind(&self) -> ItemType {
        match (self.tag >> 2) & 3 {
            0 => ItemType::Main,
            1 => ItemType::Global,
            2 => ItemType::Local,
            _ => ItemType::Reserved,
        }
    }

    pub fn is_long(&self) -> bool {
        self.tag == LONG
    }

    /// Data as an unsigned little-endian number (at most 4 bytes are used).
    pub fn unsigned(&self) -> u32 {
        self.data
            .iter()
            .take(4)
            .rev()
            .fold(0u32, |acc, &b| (acc << 8) | b as u32)
    }

    /// Data sign-extended from its encoded size (1 → i8, 2 → i16, 4 → i32).
    pub fn signed(&self) -> i32 {
        let u = self.unsigned();
        match self.data.len() {
            0 => 0,
            1 => u as u8 as i8 as i32,
            2 => u as u16 as i16 as i32,
            _ => u as i32,
        }
    }
}

/// Prefix of a long item.
pub const LONG: u8 = 0xFE;

/// Iterator over the items of a descriptor. Yields `Err` once (and then
/// stops) if an item runs past the end of the buffer.
pub struct Items<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Items<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Items {
            buf,
            pos: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<Item<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let offset = self.pos;
        let prefix = self.buf[offset];
        let (tag, start, len) = if prefix == LONG {
            // Long item: bDataSize, bLongItemTag, then the data.
            match self.buf.get(offset + 1) {
                Some(&n) => (LONG, offset + 3, n as usize),
                None => (LONG, offset + 3, usize::MAX),
            }
        } else {
            let len = [0, 1, 2, 4][(prefix & 3) as usize];
            (prefix & 0xFC, offset + 1, len)
        };
        match start.checked_add(len) {
            Some(end) if end <= self.buf.len() => {
                self.pos = end;
                Some(Ok(Item {
                    tag,
                    offset,
                    data: &self.buf[start..end],
                }))
            }
            _ => {
                self.failed = true;
                Some(Err(Error::Truncated { offset }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_items() {
        // Usage Page (Power Device), Logical Max 2-byte FF FF, a long item
        // with 2 data bytes, End Collection.
        let d = [
            0x05, 0x84, 0x26, 0xFF, 0xFF, 0xFE, 0x02, 0x10, 0xAA, 0xBB, 0xC0,
        ];
        let items: Vec<_> = Items::new(&d).map(|i| i.unwrap()).collect();
        assert_eq!(items.len(), 4);
        assert_eq!(items[0].tag, 0x04);
        assert_eq!(items[0].unsigned(), 0x84);
        assert_eq!(items[1].tag, 0x24);
        assert_eq!(items[1].signed(), -1);
        assert_eq!(items[1].unsigned(), 0xFFFF);
        assert!(items[2].is_long());
        assert_eq!(items[2].data, &[0xAA, 0xBB]);
        assert_eq!(items[3].tag, 0xC0);
        assert_eq!(items[3].kind(), ItemType::Main);
    }

    #[test]
    fn truncated_item_is_an_error_with_its_offset() {
        let d = [0x05, 0x84, 0x27, 0x01, 0x02];
        let r: Vec<_> = Items::new(&d).collect();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1], Err(Error::Truncated { offset: 2 }));
        let d = [0xFE];
        assert_eq!(
            Items::new(&d).next(),
            Some(Err(Error::Truncated { offset: 0 }))
        );
    }
}
