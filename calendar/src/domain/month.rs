//! A month of a calendar, as the month pages show and page through them.

use chrono::{Datelike, Months, NaiveDate, Utc};

use super::event::YEARS;

/// A month, held as its first day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month(NaiveDate);

impl Month {
    /// This month (UTC).
    pub fn current() -> Self {
        let today = Utc::now().date_naive();
        Self(today.with_day(1).unwrap_or(today))
    }

    /// `YYYY-MM` (trimmed), in the years events may fall in; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        NaiveDate::parse_from_str(&format!("{}-01", raw.trim()), "%Y-%m-%d")
            .ok()
            .filter(|d| YEARS.contains(&d.year()))
            .map(Self)
    }

    pub fn first_day(self) -> NaiveDate {
        self.0
    }

    /// The month before (`None` only at the end of the calendar's range of dates).
    pub fn previous(self) -> Option<Self> {
        self.0.checked_sub_months(Months::new(1)).map(Self)
    }

    pub fn next(self) -> Option<Self> {
        self.0.checked_add_months(Months::new(1)).map(Self)
    }

    /// `YYYY-MM`, as [`Month::parse`] reads it.
    pub fn param(self) -> String {
        self.0.format("%Y-%m").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_from_year_and_month_and_page_across_years() {
        let december = Month::parse(" 2026-12 ").unwrap();
        assert_eq!(december.first_day(), NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        assert_eq!(december.next().unwrap().param(), "2027-01");
        assert_eq!(december.previous().unwrap().param(), "2026-11");
        for bad in ["", "December", "2026-13", "2026-1-1", "1899-12", "3000-01"] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
        assert_eq!(Month::current().first_day().day(), 1);
    }
}
