//! Reading the ledger: a tenant's invoices and payments, newest first, a
//! page at a time, and one invoice by id. Every read is within one tenant,
//! so another tenant's invoice is simply not found.

use super::StoreError;
use crate::ids::{Provider, TenantId, UnixTime};
use crate::ledger::{Invoice, PaymentRecord};
use async_trait::async_trait;

/// At most this many items per page, whatever the caller asks.
pub const MAX_PAGE_SIZE: u32 = 100;

/// One page's request: resume after `cursor` (the last key of the previous
/// page), at most `limit` items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub cursor: Option<String>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The cursor of the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}

/// The order pages follow: invoices by id (series, financial year and
/// sequence, so newest first within a series), payments by this key: the
/// attempt's time, then provider and payment id. Every event about one
/// attempt gives it the same key.
pub fn payment_sort_key(at: UnixTime, provider: Provider, payment_id: &str) -> String {
    format!("{:010}#{provider}#{payment_id}", at.seconds().max(0))
}

/// A logged payment's key.
pub fn payment_record_key(payment: &PaymentRecord) -> String {
    payment_sort_key(payment.at, payment.provider, &payment.payment_id)
}

#[async_trait]
pub trait LedgerReader: Send + Sync {
    /// Invoices only, newest first: a credit note is found from its refund
    /// in the payments log (`invoice_id`), by id.
    async fn list_invoices(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<Invoice>, StoreError>;

    /// An invoice or a credit note.
    async fn get_invoice(&self, tenant: &TenantId, id: &str)
        -> Result<Option<Invoice>, StoreError>;

    async fn list_payments(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<PaymentRecord>, StoreError>;
}

#[async_trait]
impl<T: LedgerReader + ?Sized> LedgerReader for std::sync::Arc<T> {
    async fn list_invoices(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<Invoice>, StoreError> {
        (**self).list_invoices(tenant, page).await
    }

    async fn get_invoice(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Invoice>, StoreError> {
        (**self).get_invoice(tenant, id).await
    }

    async fn list_payments(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<PaymentRecord>, StoreError> {
        (**self).list_payments(tenant, page).await
    }
}

/// Pages an already sorted (newest first) list by key: what the in-memory
/// and embedded stores share with DynamoDB's `ExclusiveStartKey` paging.
pub fn page_of<T: Clone>(sorted_newest_first: &[(String, T)], page: &PageRequest) -> Page<T> {
    let limit = page.limit.clamp(1, MAX_PAGE_SIZE) as usize;
    let start = match &page.cursor {
        None => 0,
        Some(cursor) => sorted_newest_first
            .iter()
            .position(|(key, _)| key.as_str() < cursor.as_str())
            .unwrap_or(sorted_newest_first.len()),
    };
    let items: Vec<_> = sorted_newest_first[start..].iter().take(limit).collect();
    let more = start + items.len() < sorted_newest_first.len();
    Page {
        next_cursor: if more {
            items.last().map(|(key, _)| key.clone())
        } else {
            None
        },
        items: items.into_iter().map(|(_, item)| item.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_newest_first_and_end_without_a_cursor() {
        let items: Vec<(String, u32)> = (1..=5).rev().map(|i| (format!("k{i}"), i)).collect();
        let first = page_of(
            &items,
            &PageRequest {
                cursor: None,
                limit: 2,
            },
        );
        assert_eq!(first.items, [5, 4]);
        let second = page_of(
            &items,
            &PageRequest {
                cursor: first.next_cursor,
                limit: 2,
            },
        );
        assert_eq!(second.items, [3, 2]);
        let last = page_of(
            &items,
            &PageRequest {
                cursor: second.next_cursor,
                limit: 2,
            },
        );
        assert_eq!((last.items, last.next_cursor), (vec![1], None));
        // A cursor between keys resumes after it; limits are clamped.
        assert_eq!(
            page_of(
                &items,
                &PageRequest {
                    cursor: Some("k35".into()),
                    limit: 0
                }
            )
            .items,
            [3]
        );
        assert_eq!(
            page_of(
                &items,
                &PageRequest {
                    cursor: None,
                    limit: 1000
                }
            )
            .items
            .len(),
            5
        );
    }
}
