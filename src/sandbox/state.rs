//! The sandbox's in-memory world: apps, users, codes, grants and tokens.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use crate::crypto::{random_bytes, random_token, sha256};

/// An OAuth app registered with the sandbox.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ClientApp {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uris: Vec<String>,
}

/// A Server-to-Server OAuth app, bound to one account.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct S2sApp {
    pub account_id: String,
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub account_id: String,
    pub role_name: String,
}

impl User {
    /// Zoom's built-in role ids: Owner "0", Admin "1", Member "2".
    pub fn role_id(&self) -> &'static str {
        match self.role_name.as_str() {
            "Owner" => "0",
            "Admin" => "1",
            _ => "2",
        }
    }
}

pub struct Code {
    pub client_id: String,
    pub redirect_uri: String,
    pub challenge: Option<String>,
    pub method: String,
    pub user_email: String,
    pub scopes: String,
    pub expires_at: i64,
    pub used: bool,
    pub grant_id: Option<String>,
}

pub struct Grant {
    pub client_id: String,
    pub user_email: Option<String>,
    pub scopes: String,
    pub revoked: bool,
}

pub struct AccessToken {
    pub grant_id: String,
    pub expires_at: i64,
}

pub struct RefreshToken {
    pub grant_id: String,
    pub used: bool,
}

/// Injected failure for the next `count` calls to `endpoint`.
///
/// With a `status`, the call is refused after `delay_ms` and Zoom acts on
/// nothing. Without one, a `token` call is processed at once (a refresh
/// rotates) and answered `delay_ms` later, as a slow Zoom does; with
/// `drop_connection` its TCP connection is then closed without an answer.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Fault {
    /// `token`, `revoke`, `users_me`, or `any`.
    pub endpoint: String,
    /// Status to answer with; `None` only delays.
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub delay_ms: u64,
    #[serde(default = "one")]
    pub count: u32,
    /// OAuth `error` code of the answer; `server_error` by default.
    #[serde(default)]
    pub error: Option<String>,
    /// Zoom's `reason` text of the answer.
    #[serde(default)]
    pub reason: Option<String>,
    /// `token` only: process the call, then drop the connection unanswered.
    #[serde(default)]
    pub drop_connection: bool,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counters {
    pub authorization_code: u64,
    pub refresh_token: u64,
    /// Refreshes that presented an already used refresh token (each killed its grant).
    pub refresh_reuse: u64,
    pub account_credentials: u64,
    pub revoke: u64,
    pub users_me: u64,
    pub authorize_decisions: u64,
}

pub struct World {
    pub clients: HashMap<String, ClientApp>,
    pub s2s_apps: HashMap<String, S2sApp>,
    pub users: HashMap<String, User>,
    pub codes: HashMap<String, Code>,
    pub grants: HashMap<String, Grant>,
    pub access: HashMap<String, AccessToken>,
    pub refresh: HashMap<String, RefreshToken>,
    pub faults: Vec<Fault>,
    pub counters: Counters,
    pub clock_offset: i64,
    pub access_ttl: i64,
    /// Where deauthorization events go, and the secret token that signs them.
    pub webhook: Option<(String, String)>,
    /// The same, for one client: each Zoom app has its own event
    /// notification URL and secret token. Wins over `webhook`.
    pub client_webhooks: HashMap<String, (String, String)>,
}

impl World {
    pub fn new(access_ttl: i64) -> Self {
        Self {
            clients: HashMap::new(),
            s2s_apps: HashMap::new(),
            users: HashMap::new(),
            codes: HashMap::new(),
            grants: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            faults: Vec::new(),
            counters: Counters::default(),
            clock_offset: 0,
            access_ttl,
            webhook: None,
            client_webhooks: HashMap::new(),
        }
    }

    pub fn now(&self) -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp() + self.clock_offset
    }

    /// Takes one charge of the first fault that matches `endpoint`.
    pub fn take_fault(&mut self, endpoint: &str) -> Option<Fault> {
        let index = self.faults.iter().position(|f| f.remaining_for(endpoint))?;
        let fault = &mut self.faults[index];
        fault.count -= 1;
        let taken = fault.clone();
        if fault.count == 0 {
            self.faults.remove(index);
        }
        Some(taken)
    }

    /// Creates the user on first consent; later consents may change the role.
    /// Users of one email domain share one Zoom account, as colleagues do.
    /// Zoom finds accounts by email without regard to ASCII case, and keeps
    /// the email as it was first typed.
    pub fn upsert_user(&mut self, email: &str, role: &str) -> User {
        let key = email.to_ascii_lowercase();
        let domain = key
            .rsplit_once('@')
            .map(|(_, d)| d.to_string())
            .unwrap_or(key.clone());
        let account_id = format!("acct_{}", &hex::encode(sha256(domain.as_bytes()))[..16]);
        let user = self.users.entry(key).or_insert_with(|| User {
            id: format!("u_{}", hex::encode(random_bytes::<8>())),
            email: email.to_string(),
            account_id,
            role_name: role.to_string(),
        });
        user.role_name = role.to_string();
        user.clone()
    }

    /// Issues an access token (and a refresh token for user grants).
    pub fn issue(&mut self, grant_id: &str, with_refresh: bool) -> serde_json::Value {
        let access = format!("sbx_at_{}", random_token());
        let expires_at = self.now() + self.access_ttl;
        self.access.insert(
            access.clone(),
            AccessToken {
                grant_id: grant_id.to_string(),
                expires_at,
            },
        );
        let scopes = self
            .grants
            .get(grant_id)
            .map(|g| g.scopes.clone())
            .unwrap_or_default();
        let mut body = serde_json::json!({
            "access_token": access,
            "token_type": "bearer",
            "expires_in": self.access_ttl,
            "scope": scopes,
        });
        if with_refresh {
            let refresh = format!("sbx_rt_{}", random_token());
            self.refresh.insert(
                refresh.clone(),
                RefreshToken {
                    grant_id: grant_id.to_string(),
                    used: false,
                },
            );
            body["refresh_token"] = refresh.into();
        }
        body
    }

    /// Kills a grant and every token issued under it.
    pub fn revoke_grant(&mut self, grant_id: &str) {
        if let Some(grant) = self.grants.get_mut(grant_id) {
            grant.revoked = true;
        }
        self.access.retain(|_, t| t.grant_id != grant_id);
        self.refresh.retain(|_, t| t.grant_id != grant_id);
    }

    /// Removes the app for a user, as "Manage > Remove" does in Zoom: kills
    /// their grants and returns `(client_id, user, account)` for each app removed.
    pub fn remove_app_for(&mut self, email: &str) -> Vec<(String, String, String)> {
        let Some(user) = self.users.get(&email.to_ascii_lowercase()).cloned() else {
            return Vec::new();
        };
        let grants: Vec<(String, String)> = self
            .grants
            .iter()
            .filter(|(_, g)| {
                !g.revoked
                    && g.user_email.as_deref().map(str::to_ascii_lowercase)
                        == Some(user.email.to_ascii_lowercase())
            })
            .map(|(id, g)| (id.clone(), g.client_id.clone()))
            .collect();
        let mut removed: Vec<(String, String, String)> = Vec::new();
        for (grant, client_id) in grants {
            self.revoke_grant(&grant);
            if !removed.iter().any(|(c, _, _)| c == &client_id) {
                removed.push((client_id, user.id.clone(), user.account_id.clone()));
            }
        }
        removed
    }

    pub fn new_grant(&mut self, client_id: &str, user_email: Option<&str>, scopes: &str) -> String {
        let id = format!("g_{}", hex::encode(random_bytes::<8>()));
        self.grants.insert(
            id.clone(),
            Grant {
                client_id: client_id.to_string(),
                user_email: user_email.map(str::to_string),
                scopes: scopes.to_string(),
                revoked: false,
            },
        );
        id
    }
}

impl Fault {
    fn remaining_for(&self, endpoint: &str) -> bool {
        self.count > 0 && (self.endpoint == endpoint || self.endpoint == "any")
    }
}
