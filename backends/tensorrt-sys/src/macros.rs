//! The one list of shim functions, expanded either into `extern "C"` declarations (shim built)
//! or into stub bodies that fail with [`crate::CALIBR8_TRT_ERR_UNAVAILABLE`]
//! (`cfg(calibr8_trt_stub)`).
//! Keeping one list means the stub can never drift from the real signatures.

macro_rules! shim_functions {
    ($(
        $(#[$meta:meta])*
        pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> i32;
    )*) => {
        #[cfg(not(calibr8_trt_stub))]
        unsafe extern "C" {
            $(
                $(#[$meta])*
                #[doc = ""]
                #[doc = "# Safety"]
                #[doc = "See the [crate-level safety contract](crate#safety)."]
                pub fn $name($($arg: $ty),*) -> i32;
            )*
        }

        $(
            #[cfg(calibr8_trt_stub)]
            $(#[$meta])*
            #[doc = ""]
            #[doc = "# Safety"]
            #[doc = "See the [crate-level safety contract](crate#safety). (This build is the"]
            #[doc = "stub: the call only returns `CALIBR8_TRT_ERR_UNAVAILABLE`.)"]
            pub unsafe extern "C" fn $name($($arg: $ty),*) -> i32 {
                let _ = ($($arg,)*);
                $crate::CALIBR8_TRT_ERR_UNAVAILABLE
            }
        )*

        /// Every function of the list: its name, its parameter names, and its address (taking
        /// it makes the linker resolve every declaration against the compiled shim).
        #[cfg(test)]
        pub(crate) fn shim_function_table() -> Vec<(&'static str, Vec<&'static str>, usize)> {
            vec![$((stringify!($name), vec![$(stringify!($arg)),*], $name as *const () as usize)),*]
        }
    };
}
