//! Zoom scopes, and the products a CRM integrates (`ZOOM_PRODUCTS`), as in
//! Salesforce for Zoom's "select the Zoom products you integrate".
//!
//! Scopes are compared as exact strings: Zoom's classic (`meeting:read`) and
//! granular (`meeting:read:meeting`) scopes are different grants, and
//! `user:read:admin` is not `user:read`. Guessing an implication here would
//! accept a grant that cannot do what the CRM needs.

use std::fmt;

/// A product's name: lowercase letters, digits, `-` and `_`, 1–40 characters,
/// so it is safe in a form field, a URL and a space-joined column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProductName(String);

impl ProductName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        let valid = (1..=40).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(name.to_string()))
        } else {
            Err(format!(
                "{raw:?} is not a product name (1-40 of a-z, 0-9, '-', '_')"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProductName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One Zoom scope, e.g. `meeting:read` or `meeting:read:list_meetings:admin`.
fn parse_scope(raw: &str) -> Result<String, String> {
    let valid = (1..=100).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-' | b'.'));
    if valid {
        Ok(raw.to_string())
    } else {
        Err(format!("{raw:?} is not a Zoom scope"))
    }
}

/// A list of scopes separated by spaces or commas; duplicates dropped, order kept.
pub fn parse_scope_list(raw: &str) -> Result<Vec<String>, String> {
    let mut scopes = Vec::new();
    for part in raw.split([' ', ',']).filter(|s| !s.is_empty()) {
        let scope = parse_scope(part)?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Ok(scopes)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub name: ProductName,
    pub scopes: Vec<String>,
}

/// The products offered on the connect page, in configured order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Products(Vec<Product>);

impl Products {
    /// `name=scope scope;name=scope …`, e.g.
    /// `meetings=meeting:read meeting:write;webinar=webinar:read`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut products: Vec<Product> = Vec::new();
        for entry in raw.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, scopes) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry:?} is not name=scope scope"))?;
            let name = ProductName::parse(name)?;
            if products.iter().any(|p| p.name == name) {
                return Err(format!("product {name} is listed twice"));
            }
            let scopes = parse_scope_list(scopes)?;
            if scopes.is_empty() {
                return Err(format!("product {name} has no scopes"));
            }
            products.push(Product { name, scopes });
        }
        Ok(Self(products))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Product> {
        self.0.iter()
    }

    /// Names checked against the configured products, in configured order
    /// and without duplicates. An unknown name is the error.
    pub fn select<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<ProductName>, String> {
        let mut chosen = Vec::new();
        for raw in names {
            let name = ProductName::parse(raw)?;
            if !self.0.iter().any(|p| p.name == name) {
                return Err(if self.0.is_empty() {
                    format!("no products are configured (ZOOM_PRODUCTS), so {name:?} is unknown")
                } else {
                    format!(
                        "{name:?} is not a configured product; known: {}",
                        self.names().join(", ")
                    )
                });
            }
            chosen.push(name);
        }
        Ok(self
            .0
            .iter()
            .filter(|p| chosen.contains(&p.name))
            .map(|p| p.name.clone())
            .collect())
    }

    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|p| p.name.as_str()).collect()
    }

    /// What to send Zoom as `scope`: the base scopes, then each chosen
    /// product's, without duplicates. `None` asks for the app's defaults.
    pub fn scope_for(&self, base: &[String], chosen: &[ProductName]) -> Option<String> {
        let mut scopes: Vec<&str> = base.iter().map(String::as_str).collect();
        for product in self.0.iter().filter(|p| chosen.contains(&p.name)) {
            for scope in &product.scopes {
                if !scopes.contains(&scope.as_str()) {
                    scopes.push(scope);
                }
            }
        }
        (!scopes.is_empty()).then(|| scopes.join(" "))
    }
}

/// The required scopes a grant's `scope` answer lacks, in required order.
pub fn missing_scopes(required: &[String], granted: &str) -> Vec<String> {
    let granted: Vec<&str> = granted.split([' ', ',']).collect();
    required
        .iter()
        .filter(|scope| !granted.contains(&scope.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_parse_as_the_contract_writes_them() {
        let p =
            Products::parse("meetings=meeting:read meeting:write;webinar=webinar:read").unwrap();
        assert_eq!(p.names(), ["meetings", "webinar"]);
        assert_eq!(
            p.iter().next().unwrap().scopes,
            ["meeting:read", "meeting:write"]
        );
        assert!(Products::parse("").unwrap().is_empty());
        for bad in ["meetings", "Meetings=a", "m=", "m=a;m=b", "m=a b!", "=a"] {
            assert!(Products::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn scope_joins_base_and_chosen_products_once() {
        let p = Products::parse("a=x y;b=y z;c=w").unwrap();
        let chosen = p.select(["c", "a"]).unwrap();
        assert_eq!(
            chosen.iter().map(|n| n.as_str()).collect::<Vec<_>>(),
            ["a", "c"]
        );
        assert_eq!(
            p.scope_for(&["user:read".into()], &chosen).unwrap(),
            "user:read x y w"
        );
        assert_eq!(p.scope_for(&[], &[]), None);
        assert!(p.select(["d"]).unwrap_err().contains("known: a, b, c"));
        assert!(Products::default().select(["a"]).is_err());
    }

    #[test]
    fn missing_scopes_compare_exactly() {
        let required = parse_scope_list("user:read, meeting:write").unwrap();
        assert!(missing_scopes(&required, "meeting:write user:read").is_empty());
        assert_eq!(
            missing_scopes(&required, "user:read:admin meeting:write"),
            ["user:read"]
        );
        assert_eq!(
            missing_scopes(&required, ""),
            ["user:read", "meeting:write"]
        );
    }
}
