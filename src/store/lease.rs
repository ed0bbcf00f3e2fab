//! The refresh lease and the fenced store of a refreshed pair.
//!
//! Lease times come from the database's clock, never a replica's: a replica
//! whose clock runs ahead would otherwise see a live lease as expired and
//! refresh the same token twice, which kills the grant at Zoom. The only SQL
//! that differs between the backends is how each spells "now".

use super::TokenSlot;

/// A refresh lease just taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseGrant {
    /// When the lease ends, in the database's unix seconds.
    pub until: i64,
    /// An earlier refresh of this very token reached (or may have reached)
    /// Zoom and its answer was never stored.
    pub earlier_answer_lost: bool,
}

/// How an attempt that stored nothing gives its lease back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseEnd {
    /// Zoom never saw the call, or refused it: Zoom rotated nothing.
    Settled,
    /// The call reached Zoom and no answer came back: Zoom may have rotated.
    AnswerLost,
}

/// Unix seconds by the database server's clock.
macro_rules! pg_now {
    () => {
        "CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp())) AS BIGINT)"
    };
}

/// Unix seconds by SQLite's clock (the only process that uses the file).
macro_rules! sqlite_now {
    () => {
        "CAST(strftime('%s', 'now') AS INTEGER)"
    };
}

/// Takes the lease (`$1` owner, `$2` seconds) on row `$3` at version `$4`.
/// It also marks the token as sent, keeping the previous mark: an unresolved
/// earlier mark at this version means an earlier answer was lost.
macro_rules! acquire {
    ($now:expr) => {
        [
            concat!(
                "UPDATE connections SET lease_owner = $1, lease_until = ",
                $now,
                " + $2,
                     refresh_prior_sent_version = refresh_sent_version,
                     refresh_sent_version = version
                 WHERE id = $3 AND version = $4 AND status = 'active'
                   AND (lease_until IS NULL OR lease_until < ",
                $now,
                ")
                 RETURNING lease_until, refresh_prior_sent_version"
            ),
            concat!(
                "UPDATE s2s_credentials SET lease_owner = $1, lease_until = ",
                $now,
                " + $2
                 WHERE id = $3 AND version = $4
                   AND (lease_until IS NULL OR lease_until < ",
                $now,
                ")
                 RETURNING lease_until, CAST(NULL AS BIGINT) AS refresh_prior_sent_version"
            ),
        ]
    };
}

const PG_ACQUIRE: [&str; 2] = acquire!(pg_now!());
const SQLITE_ACQUIRE: [&str; 2] = acquire!(sqlite_now!());

pub(super) fn acquire_sql(backend: &str, slot: TokenSlot) -> &'static str {
    let sql = if backend == "postgres" {
        &PG_ACQUIRE
    } else {
        &SQLITE_ACQUIRE
    };
    match slot {
        TokenSlot::Connection => sql[0],
        TokenSlot::S2s => sql[1],
    }
}

/// Ends the lease of owner `$2` on row `$1`.
pub(super) fn release_sql(slot: TokenSlot, end: LeaseEnd) -> &'static str {
    match (slot, end) {
        // Zoom rotated nothing: this attempt's mark goes, an earlier one stays.
        (TokenSlot::Connection, LeaseEnd::Settled) => {
            "UPDATE connections
             SET lease_owner = NULL, lease_until = NULL,
                 refresh_sent_version = refresh_prior_sent_version
             WHERE id = $1 AND lease_owner = $2"
        }
        (TokenSlot::Connection, LeaseEnd::AnswerLost) => {
            "UPDATE connections SET lease_owner = NULL, lease_until = NULL
             WHERE id = $1 AND lease_owner = $2"
        }
        (TokenSlot::S2s, _) => {
            "UPDATE s2s_credentials SET lease_owner = NULL, lease_until = NULL
             WHERE id = $1 AND lease_owner = $2"
        }
    }
}

/// Stores a refreshed pair: a compare-and-swap on `version`, fenced by the
/// lease owner, so a holder whose lease was taken over can never overwrite.
pub(super) fn store_refreshed_sql(slot: TokenSlot) -> &'static str {
    match slot {
        TokenSlot::Connection => {
            "UPDATE connections
             SET access_token = $1, refresh_token = COALESCE($2, refresh_token),
                 access_expires_at = $3, scopes = COALESCE($4, scopes),
                 version = version + 1, lease_owner = NULL, lease_until = NULL,
                 refresh_sent_version = NULL, refresh_prior_sent_version = NULL,
                 last_refreshed_at = $5, updated_at = $5,
                 refresh_issued_at = CASE WHEN $2 IS NULL THEN refresh_issued_at ELSE $5 END
             WHERE id = $6 AND version = $7 AND lease_owner = $8 AND status = 'active'"
        }
        // S2S grants carry no refresh token, so the placeholders shift by one.
        TokenSlot::S2s => {
            "UPDATE s2s_credentials
             SET access_token = $1, access_expires_at = $2, scopes = COALESCE($3, scopes),
                 version = version + 1, lease_owner = NULL, lease_until = NULL,
                 last_refreshed_at = $4, updated_at = $4
             WHERE id = $5 AND version = $6 AND lease_owner = $7"
        }
    }
}
