//! Resource grammar: `type:id` as a check names it and the patterns (`repo:*`) a
//! token is granted. A resource accepted reads back as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::resource::{Resource, ResourceScope};

fuzz_target!(|input: (&str, Vec<String>)| {
    let (text, patterns) = input;
    if let Ok(resource) = Resource::parse(text) {
        assert_eq!(resource.as_str(), text);
        assert_eq!(format!("{}:{}", resource.kind(), resource.id()), text);
    }
    if let Ok(scope) = ResourceScope::parse(Some(&patterns)) {
        let again: Option<Vec<String>> = scope.view().texts();
        if let Some(again) = again {
            assert!(ResourceScope::parse(Some(&again)).is_ok());
        }
    }
});
