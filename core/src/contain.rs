//! Containing engine panics: every call into an engine (tract, burn, any later backend) runs
//! under [`contain`], so a panic deep inside the engine becomes an [`Error::BackendPanic`] and a
//! clean exit instead of an abort with a backtrace. This is the last line of defence behind
//! [`crate::validate`], not a substitute for it.

use crate::internal::*;
use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;

thread_local! {
    /// How many [`contain`] calls are active on this thread (they nest: prepare inside compare).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Where the last contained panic on this thread was raised (`file:line`).
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Runs `f`; a panic inside it becomes [`Error::BackendPanic`] naming `backend` and `stage`.
///
/// While `f` runs, the default panic message ("thread 'main' panicked at …") is not printed on
/// this thread: the error carries the message and the location instead. Panics outside
/// `contain`, and on other threads, still go to the previous hook.
///
/// ```
/// use calibr8_core::{contain, Error};
/// let r: calibr8_core::Result<()> = contain("demo", "running a batch", || panic!("boom"));
/// match r {
///     Err(Error::BackendPanic { backend, stage, message, .. }) => {
///         assert_eq!((backend.as_str(), stage.as_str()), ("demo", "running a batch"));
///         assert!(message.starts_with("boom"));
///     }
///     other => panic!("{other:?}"),
/// }
/// assert_eq!(contain("demo", "x", || Ok(3))?, 3);
/// # Ok::<(), calibr8_core::Error>(())
/// ```
pub fn contain<T>(backend: &str, stage: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    install_hook();
    DEPTH.with(|d| d.set(d.get() + 1));
    // The engine state `f` touches is dropped or rebuilt by the caller after an error, so a
    // half-updated value is never observed: unwind safety holds in practice.
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    DEPTH.with(|d| d.set(d.get() - 1));
    match result {
        Ok(r) => r,
        Err(payload) => {
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            let location = LOCATION.with(|l| l.borrow_mut().take());
            let message = match location {
                Some(at) => format!("{} (at {at})", text.trim()),
                None => text.trim().to_string(),
            };
            tracing::debug!(backend, stage, %message, "contained a backend panic");
            Err(Error::BackendPanic {
                backend: backend.into(),
                stage: stage.into(),
                node: None,
                message,
            })
        }
    }
}

fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
            if DEPTH.with(|d| d.get()) > 0 {
                let at = info.location().map(|l| format!("{}:{}", short(l.file()), l.line()));
                LOCATION.with(|l| *l.borrow_mut() = at);
            } else {
                previous(info);
            }
        }));
    });
}

/// `…/registry/src/index…/tract-hir-0.23.9/src/ops/array/flatten.rs` → `tract-hir-0.23.9/src/…`.
fn short(file: &str) -> &str {
    // The last `/src/`: a registry path has `registry/src/index-…/` before the crate.
    match file.rfind("/src/") {
        Some(src) => {
            let crate_start = file[..src].rfind('/').map(|i| i + 1).unwrap_or(0);
            &file[crate_start..]
        }
        None => file,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_contain_and_ordinary_errors_pass_through() {
        let r: Result<u8> = contain("a", "outer", || {
            let inner: Result<u8> = contain("b", "inner", || panic!("inner {}", 1));
            assert!(
                matches!(inner, Err(Error::BackendPanic { ref backend, .. }) if backend == "b")
            );
            Err(Error::backend("a", "plain error"))
        });
        assert!(matches!(r, Err(Error::Backend { .. })));
    }

    #[test]
    fn location_is_shortened_to_the_crate() {
        assert_eq!(
            short("/home/u/.cargo/registry/src/index-123/tract-hir-0.23.9/src/ops/flatten.rs"),
            "tract-hir-0.23.9/src/ops/flatten.rs"
        );
        assert_eq!(short("core/src/contain.rs"), "core/src/contain.rs");
    }
}
