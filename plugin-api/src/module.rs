//! The root module every plugin library exports, and the macro that exports it.

use abi_stable::{
    declare_root_module_statics, library::RootModule, package_version_strings,
    sabi_types::VersionStrings, std_types::RResult, StableAbi,
};

use crate::report::{PluginError, PluginInfo};
use crate::session::Session;
use crate::trainer::TrainerBox;

/// The plugin's entry points. A prefix type: fields can be appended in later interface
/// versions without breaking plugins built against earlier ones.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
#[sabi(missing_field(panic))]
pub struct PluginMod {
    /// Static facts about the plugin.
    pub info: extern "C" fn() -> PluginInfo,
    /// Builds a trainer for `session`; it may borrow the session's data.
    #[sabi(last_prefix_field)]
    pub new_trainer: for<'a> extern "C" fn(&Session<'a>) -> RResult<TrainerBox<'a>, PluginError>,
}

impl RootModule for PluginModRef {
    declare_root_module_statics! {PluginModRef}
    const BASE_NAME: &'static str = "plugin";
    const NAME: &'static str = "joulebench plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// Exports a plugin's root module. Give it two functions:
///
/// - `info: fn() -> PluginInfo`
/// - `new_trainer: for<'a> fn(&Session<'a>) -> Result<TrainerBox<'a>, PluginError>`
///
/// Both are called under `catch_unwind`; a panic in `info` aborts loading with a clear error
/// in the host, a panic in `new_trainer` becomes a `PluginError`.
///
/// ```text
/// plugin_api::export_plugin! { info: my_info, new_trainer: my_new_trainer }
/// ```
///
/// The expansion names abi_stable only through `$crate::abi_stable`, so a plugin needs no
/// dependency of its own on abi_stable. That is why it does not use abi_stable's
/// `#[export_root_module]` attribute, whose expansion names `::abi_stable` and so requires
/// one: it writes out what that attribute writes (abi_stable 0.11), the exported `static`
/// holding the library header, under the name the loader looks up. A const assertion
/// checks that name against abi_stable's own constant at every build.
#[macro_export]
macro_rules! export_plugin {
    (info: $info:path, new_trainer: $new_trainer:path $(,)?) => {
        #[doc(hidden)]
        pub fn __joulebench_root_module() -> $crate::PluginModRef {
            extern "C" fn __info() -> $crate::PluginInfo {
                $crate::guard::catch_panic_or($info, $crate::PluginInfo::panicked())
            }
            extern "C" fn __new_trainer<'a>(
                session: &$crate::Session<'a>,
            ) -> $crate::abi_stable::std_types::RResult<$crate::TrainerBox<'a>, $crate::PluginError>
            {
                $crate::guard::catch_panic(|| $new_trainer(session))
            }
            use $crate::abi_stable::prefix_type::PrefixTypeTrait;
            $crate::PluginMod {
                info: __info,
                new_trainer: __new_trainer,
            }
            .leak_into_prefix()
        }

        // What `#[abi_stable::export_root_module]` expands to, with `$crate` paths.
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        #[allow(non_upper_case_globals)]
        pub static _1as_0lib_1header_0root_bmodule_bloader: $crate::abi_stable::library::LibHeader = {
            extern "C" fn erased() -> $crate::abi_stable::library::RootModuleResult {
                $crate::abi_stable::library::__call_root_module_loader(__joulebench_root_module)
            }
            const _: () = assert!(
                $crate::same_str(
                    $crate::abi_stable::library::ROOT_MODULE_LOADER_NAME,
                    "_1as_0lib_1header_0root_bmodule_bloader",
                ),
                "abi_stable names the exported header differently: update export_plugin!",
            );
            // SAFETY: `erased` returns the root module of type `PluginModRef` (what
            // `__call_root_module_loader` erases), as `from_constructor` requires.
            unsafe {
                $crate::abi_stable::library::LibHeader::from_constructor::<$crate::PluginModRef>(
                    erased,
                    $crate::abi_stable::library::CheckTypeLayout::Yes,
                )
            }
        };
    };
}

/// `a == b`, usable in constants (for [`export_plugin!`]'s check).
#[doc(hidden)]
pub const fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
