//! [`KeyValue`] over the browser's localStorage.

use wasm_bindgen::JsCast;

use super::{KeyValue, StoreError};

#[derive(Clone)]
pub struct BrowserStorage(web_sys::Storage);

impl BrowserStorage {
    /// The page's localStorage, or why there is none.
    pub fn open() -> Result<Self, StoreError> {
        let window =
            web_sys::window().ok_or_else(|| StoreError::Unavailable("no window".into()))?;
        match window.local_storage() {
            Ok(Some(s)) => Ok(Self(s)),
            Ok(None) => Err(StoreError::Unavailable("the browser offers none".into())),
            Err(e) => Err(StoreError::Unavailable(error_name(&e))),
        }
    }
}

fn error_name(e: &wasm_bindgen::JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.name()))
        .unwrap_or_else(|| "blocked".into())
}

impl KeyValue for BrowserStorage {
    fn get(&self, key: &str) -> Option<String> {
        self.0.get_item(key).ok().flatten()
    }

    fn set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.0.set_item(key, value).map_err(|e| {
            let name = error_name(&e);
            if name.contains("Quota") {
                StoreError::Quota
            } else {
                StoreError::Unavailable(name)
            }
        })
    }

    fn remove(&self, key: &str) {
        let _ = self.0.remove_item(key);
    }

    fn keys(&self) -> Vec<String> {
        let n = self.0.length().unwrap_or(0);
        (0..n)
            .filter_map(|i| self.0.key(i).ok().flatten())
            .collect()
    }
}
