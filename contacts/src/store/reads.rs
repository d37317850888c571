//! Queries on the read model and the event log.

use sqlx::{AssertSqlSafe, Row};

use super::Store;
use super::dialect::SELECT_CONTACT;
use super::rows::{ALL_EVENTS, contact_from_row, event_from_row, read_head};
use crate::domain::{Contact, ContactId, Event};
use crate::feed::head::Head;

/// Most words of a search that are used (each must match).
const MAX_SEARCH_TERMS: usize = 8;

/// Where a listing continues: the sort key and id of the last contact of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    sort_key: String,
    id: String,
}

impl Cursor {
    /// The opaque form used in `?cursor=` (hex, so it needs no escaping anywhere).
    pub fn encode(&self) -> String {
        let raw = format!("{}\u{0}{}", self.sort_key, self.id);
        raw.bytes().map(|b| format!("{b:02x}")).collect()
    }

    pub fn decode(opaque: &str) -> Option<Self> {
        if !opaque.len().is_multiple_of(2) || opaque.len() > 2048 {
            return None;
        }
        let bytes = (0..opaque.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(opaque.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        let raw = String::from_utf8(bytes).ok()?;
        let (sort_key, id) = raw.split_once('\u{0}')?;
        let id = ContactId::parse(id)?.to_string();
        Some(Self { sort_key: sort_key.to_owned(), id })
    }
}

/// A listing request: search words (any case), where to continue, how many.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub search: Option<String>,
    pub after: Option<Cursor>,
    pub limit: u32,
}

impl ListQuery {
    /// The folded words of the search (accents and case removed, as in the stored
    /// `search_text`), each becoming a `LIKE` pattern.
    fn patterns(&self) -> Vec<String> {
        let search = crate::domain::fold(self.search.as_deref().unwrap_or(""));
        search.split_whitespace().take(MAX_SEARCH_TERMS).map(|w| format!("%{}%", escape_like(w))).collect()
    }

    pub fn is_search(&self) -> bool {
        self.search.as_deref().is_some_and(|s| !s.trim().is_empty())
    }
}

/// One page of contacts and the cursor of the next page, if there is one.
#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<Contact>,
    pub next: Option<Cursor>,
}

fn escape_like(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Store {
    pub async fn get(&self, id: ContactId) -> Result<Option<Contact>, sqlx::Error> {
        if let Some(cached) = self.cache.as_ref().and_then(|c| c.get(id, &self.head)) {
            return Ok(cached);
        }
        let read_at = self.head.get().sequence;
        let row = sqlx::query(SELECT_CONTACT).bind(id.to_string()).fetch_optional(&self.db.reader).await?;
        let contact = row.as_ref().map(contact_from_row).transpose()?;
        if let Some(cache) = &self.cache {
            cache.put(id, contact.clone(), read_at, &self.head);
        }
        Ok(contact)
    }

    /// Contacts in name order, filtered by every search word (names and email, any case).
    pub async fn list(&self, query: &ListQuery) -> Result<Page, sqlx::Error> {
        let patterns = query.patterns();
        // Built from fixed fragments only; every value is a bound parameter.
        let mut sql =
            String::from("SELECT id, firstname, lastname, email, sort_key FROM contacts WHERE 1 = 1");
        let mut n = 0;
        let mut placeholder = || {
            n += 1;
            format!("${n}")
        };
        for _ in &patterns {
            sql.push_str(&format!(" AND search_text LIKE {} ESCAPE '\\'", placeholder()));
        }
        if query.after.is_some() {
            sql.push_str(&format!(" AND (sort_key, id) > ({}, {})", placeholder(), placeholder()));
        }
        sql.push_str(&format!(" ORDER BY sort_key, id LIMIT {}", placeholder()));

        let mut q = sqlx::query(AssertSqlSafe(sql));
        for p in patterns {
            q = q.bind(p);
        }
        if let Some(after) = &query.after {
            q = q.bind(after.sort_key.clone()).bind(after.id.clone());
        }
        let rows = q.bind(i64::from(query.limit) + 1).fetch_all(&self.db.reader).await?;

        let mut items = Vec::with_capacity(rows.len());
        let mut last_key = None;
        for row in rows.iter().take(query.limit as usize) {
            let contact = contact_from_row(row)?;
            last_key = Some(Cursor { sort_key: row.try_get("sort_key")?, id: contact.id.to_string() });
            items.push(contact);
        }
        let next = if rows.len() > query.limit as usize { last_key } else { None };
        Ok(Page { items, next })
    }

    /// Events with `first <= sequence <= last`, newest first. A range on the primary key: the
    /// cost depends on the range, not on the length of the log.
    pub async fn events(&self, first: i64, last: i64) -> Result<Vec<Event>, sqlx::Error> {
        sqlx::query(
            "SELECT sequence, id, type, contact_id, occurred_at, data FROM contact_events \
             WHERE sequence >= $1 AND sequence <= $2 ORDER BY sequence DESC",
        )
        .bind(first)
        .bind(last)
        .fetch_all(&self.db.reader)
        .await?
        .iter()
        .map(event_from_row)
        .collect()
    }

    /// Where the log stands in the database (not the in-process head).
    pub async fn read_head(&self) -> Result<Head, sqlx::Error> {
        read_head(&self.db.reader).await
    }

    /// Every event, oldest first.
    pub async fn all_events(&self) -> Result<Vec<Event>, sqlx::Error> {
        sqlx::query(ALL_EVENTS).fetch_all(&self.db.reader).await?.iter().map(event_from_row).collect()
    }

    /// Every contact in the read model, by id.
    pub async fn all_contacts(&self) -> Result<Vec<Contact>, sqlx::Error> {
        sqlx::query("SELECT id, firstname, lastname, email FROM contacts ORDER BY id")
            .fetch_all(&self.db.reader)
            .await?
            .iter()
            .map(contact_from_row)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = Cursor { sort_key: "doe jane ü".into(), id: ContactId::generate().to_string() };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        for bad in ["", "zz", "abc", "00", "6100"] {
            assert_eq!(Cursor::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn like_wildcards_in_searches_are_literal() {
        assert_eq!(escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
    }
}
