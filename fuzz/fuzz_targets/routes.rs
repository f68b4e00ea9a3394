//! Route templates (`/apps/{app_id}/{rest...}`, `app:{app_id}`) as a config declares
//! them, and request targets (percent-encoded paths, queries, absolute forms) as a
//! client sends them, resolved against each other.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use tessera_core::route::{RequestTarget, RouteSpec, RouteTable, Unmatched};
use tessera_core::scope::ScopeCatalogue;

fuzz_target!(
    |input: (&str, Option<&str>, Vec<(String, String)>, &str, &str)| {
        let (path, resource, query, method, target) = input;
        let spec = RouteSpec {
            method: None,
            path: path.to_owned(),
            query: query.into_iter().collect::<BTreeMap<_, _>>(),
            scopes: vec!["repo:read".to_owned()],
            resource: resource.map(str::to_owned),
            public: false,
            method_override: false,
        };
        let catalogue = ScopeCatalogue::default_catalogue();
        let Ok(target) = RequestTarget::parse(method, target) else {
            return;
        };
        assert_eq!(target.method(), method);
        if let Ok(table) = RouteTable::new(&[spec], Unmatched::Deny, &catalogue) {
            let _ = table.resolve(&target);
        }
    }
);
