//! Which page of a listing a client asked for, bounded at the edge so that the offset that
//! reaches SQL always fits the database's integer (a page near `i64::MAX` once panicked while
//! SQLite bound its offset).

/// The highest `page` any listing accepts. A million pages of the largest page size is far
/// beyond any real listing, and the offset it makes stays well within `i64`.
pub const MAX_PAGE: u64 = 1_000_000;

/// `page` counts from 1; both numbers are within the listing's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u64,
    pub per_page: u64,
}

impl PageRequest {
    /// Rows to skip: at most `(MAX_PAGE - 1) * per_page`, which every caller bounds to ≤ 500.
    pub fn offset(self) -> u64 {
        (self.page.max(1) - 1).saturating_mul(self.per_page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_offset_fits_sql() {
        let last = PageRequest {
            page: MAX_PAGE,
            per_page: 500,
        };
        assert!(i64::try_from(last.offset()).is_ok());
    }
}
